"""The training-free models (ItemKNN, UserKNN, EASE^R, GF-CF, BSPM) against dense NumPy
computations of their formulas, written out independently here."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphrec.graph import build_interaction_graph
from graphrec.graph.interactions import Interactions
from graphrec.models import build_model, hyperparameters, model_class
from graphrec.models.bspm import BSPM, sharpening_polynomial
from graphrec.models.closed_form import csr_rows, scipy_to_csr
from graphrec.models.ease import EASE, ease_weights
from graphrec.models.gfcf import GFCF, top_right_singular_vectors
from graphrec.models.itemknn import ItemKNN
from graphrec.models.similarity import neighbour_similarity, top_k_per_row
from graphrec.models.userknn import UserKNN

CLASSIC = ("itemknn", "userknn", "ease", "gfcf", "bspm")

# 6 users x 7 items; item 6 has no interaction, user 5 has one
PAIRS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (1, 3), (2, 0), (2, 3), (2, 4), (3, 2),
         (3, 4), (3, 5), (3, 0), (4, 1), (4, 5), (4, 2), (5, 3)]
NUM_USERS, NUM_ITEMS = 6, 7


def _train() -> Interactions:
    edge_index = torch.tensor(PAIRS).t()
    return Interactions(edge_index, NUM_USERS, NUM_ITEMS)


def _dense() -> np.ndarray:
    matrix = np.zeros((NUM_USERS, NUM_ITEMS))
    for user, item in PAIRS:
        matrix[user, item] = 1.0
    return matrix


def _random_binary(rows: int, cols: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = (rng.random((rows, cols)) < density).astype(float)
    matrix[np.arange(rows), rng.integers(0, cols, rows)] = 1.0  # no empty row
    return matrix


def _interactions(matrix: np.ndarray) -> Interactions:
    users, items = np.nonzero(matrix)
    return Interactions(torch.tensor(np.stack([users, items])), *matrix.shape)


def _scores(model, users) -> np.ndarray:
    return model.scorer()(torch.as_tensor(users)).double().numpy()


# ---------------------------------------------------------------- KNN similarities


def _loop_similarity(x: np.ndarray, k: int, shrink: float, alpha: float, weighting: str,
                     penalty: bool, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Similarity of the columns of x, one pair at a time (the module's formulas)."""
    features, columns = x.shape
    df = [sum(1 for c in range(columns) if x[f, c]) for f in range(features)]
    length = [sum(1 for f in range(features) if x[f, c]) for c in range(columns)]
    mean_length = sum(length) / columns
    w = np.zeros_like(x)
    for f in range(features):
        for c in range(columns):
            if not x[f, c]:
                continue
            if weighting == "none":
                w[f, c] = x[f, c]
            elif weighting == "tfidf":
                w[f, c] = x[f, c] * (math.log((1 + columns) / (1 + df[f])) + 1)
            else:
                idf = math.log(1 + (columns - df[f] + 0.5) / (df[f] + 0.5))
                w[f, c] = (x[f, c] * (k1 + 1) / (x[f, c] + k1 * (1 - b + b * length[c]
                                                                / mean_length)) * idf)
    p = [1 / math.log(1 + df[f]) if penalty and df[f] else 1.0 for f in range(features)]
    norm = [math.sqrt(sum(w[f, c] ** 2 for f in range(features))) for c in range(columns)]
    sim = np.zeros((columns, columns))
    for t in range(columns):
        for n in range(columns):
            if t == n:
                continue
            dot = sum(p[f] * w[f, t] * w[f, n] for f in range(features))
            if dot:
                sim[t, n] = dot / (norm[t] ** (2 * alpha) * norm[n] ** (2 * (1 - alpha))
                                   + shrink)
    out = np.zeros_like(sim)
    for t in range(columns):
        ranked = sorted((n for n in range(columns) if sim[t, n]), key=lambda n: (-sim[t, n], n))
        for n in ranked[:k]:
            out[t, n] = sim[t, n]
    return out


@pytest.mark.parametrize("similarity, alpha", [("cosine", 0.5), ("asymmetric", 0.8),
                                               ("asymmetric", 0.0)])
@pytest.mark.parametrize("weighting", ["none", "tfidf", "bm25"])
@pytest.mark.parametrize("penalty", [False, True])
def test_neighbour_similarity_matches_an_explicit_loop(similarity, alpha, weighting, penalty):
    x = _random_binary(9, 8, 0.4, seed=1)
    expected = _loop_similarity(x, k=3, shrink=2.0, alpha=alpha, weighting=weighting,
                                penalty=penalty)
    got = neighbour_similarity(sp.csr_matrix(x), 3, shrink=2.0, similarity=similarity,
                               alpha=alpha, weighting=weighting, penalty=penalty)
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-12, atol=1e-15)
    assert (np.diff(got.indptr) <= 3).all() and (got.diagonal() == 0).all()


def test_neighbour_similarity_hand_computed_cosine_with_shrink_and_penalty():
    # items (columns) a, b over users u0 (has a, b), u1 (has a, b, c), u2 (has a)
    x = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0]], dtype=float)
    plain = neighbour_similarity(sp.csr_matrix(x), 2, shrink=1.0).toarray()
    # a.b = 2, |a| = sqrt(3), |b| = sqrt(2)
    assert plain[0, 1] == pytest.approx(2 / (math.sqrt(6) + 1))
    penalised = neighbour_similarity(sp.csr_matrix(x), 2, penalty=True).toarray()
    # u0 has 2 items, u1 has 3: weights 1/ln 3 and 1/ln 4
    assert penalised[0, 1] == pytest.approx((1 / math.log(3) + 1 / math.log(4)) / math.sqrt(6))
    asymmetric = neighbour_similarity(sp.csr_matrix(x), 2, similarity="asymmetric",
                                      alpha=1.0).toarray()
    # alpha = 1: |U(a) & U(b)| / |U(target)|
    assert asymmetric[0, 1] == pytest.approx(2 / 3) and asymmetric[1, 0] == pytest.approx(1.0)


def test_top_k_keeps_the_largest_per_row_ties_to_the_lower_index():
    matrix = sp.csr_matrix(np.array([[0.0, 0.5, 0.5, 0.9, 0.5], [0.1, 0.0, 0.0, 0.0, 0.2],
                                     [0.0, 0.0, 0.0, 0.0, 0.0]]))
    kept = top_k_per_row(matrix, 2).toarray()
    np.testing.assert_array_equal(kept, [[0, 0.5, 0, 0.9, 0], [0.1, 0, 0, 0, 0.2],
                                         [0, 0, 0, 0, 0]])
    assert top_k_per_row(matrix, 3).toarray()[0].tolist() == [0, 0.5, 0.5, 0.9, 0]


def test_blocked_similarity_equals_a_single_block():
    x = sp.csr_matrix(_random_binary(40, 30, 0.2, seed=3))
    whole = neighbour_similarity(x, 5, shrink=1.0, weighting="bm25", penalty=True)
    blocked = neighbour_similarity(x, 5, shrink=1.0, weighting="bm25", penalty=True,
                                   block_products=7)
    np.testing.assert_array_equal(whole.toarray(), blocked.toarray())


def test_itemknn_scores_are_history_times_similarity():
    model = ItemKNN(NUM_USERS, NUM_ITEMS, num_neighbours=2, shrink=0.5)  # asymmetric, IUF
    model.fit(_train())
    dense = _dense()
    similarity = _loop_similarity(dense, k=2, shrink=0.5, alpha=0.1, weighting="none",
                                  penalty=True)  # [target, neighbour]
    np.testing.assert_allclose(_scores(model, range(NUM_USERS)), dense @ similarity.T,
                               rtol=1e-6, atol=1e-7)


def test_userknn_scores_are_similarity_times_history():
    model = UserKNN(NUM_USERS, NUM_ITEMS, num_neighbours=2, shrink=1.5,
                    similarity="asymmetric", alpha=0.7, weighting="tfidf",
                    popular_item_penalty=True)
    model.fit(_train())
    dense = _dense()
    similarity = _loop_similarity(dense.T, k=2, shrink=1.5, alpha=0.7, weighting="tfidf",
                                  penalty=True)  # [user, neighbour]
    np.testing.assert_allclose(_scores(model, [4, 0, 5]), (similarity @ dense)[[4, 0, 5]],
                               rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- EASE


def _ease_dense(x: np.ndarray, reg: float) -> np.ndarray:
    precision = np.linalg.inv(x.T @ x + reg * np.eye(x.shape[1]))
    weight = np.eye(x.shape[1]) - precision / np.diag(precision)[None, :]
    np.fill_diagonal(weight, 0.0)  # already zero up to rounding
    return weight


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_ease_matches_the_dense_closed_form(dtype, tol):
    x = _random_binary(30, 12, 0.3, seed=2)
    model = EASE(30, 12, reg_weight=3.0, dtype=dtype)
    model.fit(_interactions(x))
    expected = _ease_dense(x, 3.0)
    assert model.weight.dtype == getattr(torch, dtype)
    np.testing.assert_allclose(model.weight.double().numpy(), expected, atol=tol)
    assert (model.weight.diagonal() == 0).all()
    np.testing.assert_allclose(_scores(model, [3, 7, 0]), x[[3, 7, 0]] @ expected, atol=tol * 10)
    # the weights are the regression's: the gradient of ||X - XB||^2 + reg ||B||^2 vanishes
    # off the diagonal
    gradient = -x.T @ (x - x @ expected) + 3.0 * expected
    np.fill_diagonal(gradient, 0.0)
    assert np.abs(gradient).max() < tol * 100


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_ease_inversion_works_in_place_and_agrees(dtype, tol):
    x = _random_binary(80, 1500, 0.05, seed=4)
    gram = torch.from_numpy(x.T @ x).to(dtype).contiguous()
    expected = _ease_dense(x, 5.0)
    pointer = gram.data_ptr()
    out = ease_weights(gram, 5.0)
    assert out.data_ptr() == pointer and out.is_contiguous()
    np.testing.assert_allclose(out.double().numpy(), expected, atol=tol)
    with pytest.raises(ValueError, match="contiguous"):
        ease_weights(torch.eye(6)[::2, ::2], 1.0)


# ---------------------------------------------------------------- GF-CF and BSPM


def _filters(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, Pi): the dense linear and ideal low-pass filters of GF-CF / BSPM."""
    user_degree, item_degree = x.sum(1), x.sum(0)
    with np.errstate(divide="ignore"):
        du = np.where(user_degree > 0, user_degree ** -0.5, 0.0)
        di = np.where(item_degree > 0, item_degree ** -0.5, 0.0)
    normalized = du[:, None] * x * di[None, :]
    _, _, vt = np.linalg.svd(normalized)
    v = vt[:k].T
    ideal = np.diag(di) @ v @ v.T @ np.diag(np.sqrt(item_degree))
    return normalized.T @ normalized, ideal


def test_gfcf_matches_the_dense_filters():
    dense = _dense()
    model = GFCF(NUM_USERS, NUM_ITEMS, factor_dim=3, ideal_weight=0.3)
    model.fit(_train())
    linear, ideal = _filters(dense, 3)
    expected = dense @ linear + 0.3 * dense @ ideal
    got = _scores(model, range(NUM_USERS))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.isfinite(got).all() and np.allclose(got[:, 6], 0.0)  # item 6: no interaction
    linear_only = GFCF(NUM_USERS, NUM_ITEMS, factor_dim=0)
    linear_only.fit(_train())
    np.testing.assert_allclose(_scores(linear_only, [1, 3]), (dense @ linear)[[1, 3]],
                               atol=1e-6)


def test_propack_singular_vectors_span_the_dense_ones(monkeypatch):
    import graphrec.models.gfcf as gfcf

    x = sp.csr_matrix(_random_binary(70, 90, 0.1, seed=5))
    dense = top_right_singular_vectors(x, 6)
    monkeypatch.setattr(gfcf, "DENSE_SVD_MAX_ENTRIES", 0)
    sparse = top_right_singular_vectors(x, 6, seed=1)
    assert sparse.shape == (90, 6)
    np.testing.assert_allclose(sparse @ sparse.T, dense @ dense.T, atol=1e-8)


def _rk4_step(x: np.ndarray, derivative, h: float) -> np.ndarray:
    """One classical Runge-Kutta step of dx/dt = derivative(x), stage by stage."""
    k1 = derivative(x)
    k2 = derivative(x + h / 2 * k1)
    k3 = derivative(x + h / 2 * k2)
    k4 = derivative(x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _bspm_dense(x: np.ndarray, k: int, beta: float, blur_time: float, blur_steps: int,
                sharpen_time: float, sharpen_steps: int, solver: str, merge: str) -> np.ndarray:
    linear, ideal = _filters(x, k)
    state = x.copy()
    for _ in range(blur_steps):  # Euler on dx/dt = x (P - I)
        state = state + blur_time / blur_steps * (state @ linear - state)
    low_pass = x @ ideal
    if merge == "early":
        state = state + beta * low_pass
    h = sharpen_time / sharpen_steps
    for _ in range(sharpen_steps):  # dx/dt = -x P
        if solver == "rk4":
            state = _rk4_step(state, lambda s: -s @ linear, h)
        else:
            state = state - h * state @ linear
    return state if merge == "early" else state + beta * low_pass


@pytest.mark.parametrize("settings", [
    dict(),  # the defaults: BSPM-EM, one Euler blur step, one RK4 sharpening step of 2.5
    dict(merge="late", sharpen_time=1.5, ideal_weight=0.4),
    dict(solver="euler", sharpen_steps=3, sharpen_time=0.9, blur_time=1.5, blur_steps=2),
    dict(merge="late", solver="rk4", sharpen_steps=2, blur_time=0.5),
    dict(sharpen_time=0.0, blur_time=0.0),
])
def test_bspm_matches_dense_ode_solutions(settings):
    dense = _dense()
    arguments = dict(factor_dim=3, ideal_weight=0.2, blur_time=1.0, blur_steps=1,
                     sharpen_time=2.5, sharpen_steps=1, solver="rk4", merge="early")
    arguments.update(settings)
    model = BSPM(NUM_USERS, NUM_ITEMS, **arguments)
    model.fit(_train())
    expected = _bspm_dense(dense, arguments["factor_dim"], arguments["ideal_weight"],
                           arguments["blur_time"], arguments["blur_steps"],
                           arguments["sharpen_time"], arguments["sharpen_steps"],
                           arguments["solver"], arguments["merge"])
    np.testing.assert_allclose(_scores(model, range(NUM_USERS)), expected, atol=2e-5)


def test_bspm_without_sharpening_is_gfcf():
    gfcf = GFCF(NUM_USERS, NUM_ITEMS, factor_dim=4, ideal_weight=0.3)
    bspm = BSPM(NUM_USERS, NUM_ITEMS, factor_dim=4, ideal_weight=0.3, sharpen_time=0.0)
    gfcf.fit(_train())
    bspm.fit(_train())
    np.testing.assert_allclose(_scores(bspm, range(6)), _scores(gfcf, range(6)), atol=1e-6)


def test_sharpening_polynomials():
    assert sharpening_polynomial("euler", 0.5) == [1.0, -0.5]
    assert sharpening_polynomial("rk4", 2.0) == pytest.approx([1, -2, 2, -4 / 3, 2 / 3])


# ---------------------------------------------------------------- shared behaviour


def _built(name: str, graph, **kwargs):
    small = {"itemknn": dict(num_neighbours=3), "userknn": dict(num_neighbours=3),
             "ease": dict(reg_weight=1.0), "gfcf": dict(factor_dim=3),
             "bspm": dict(factor_dim=3)}[name]
    return build_model(name, graph, **{**small, **kwargs})


def _graph():
    users, items = zip(*PAIRS, strict=True)
    return build_interaction_graph(list(users), list(items), user_ids=range(NUM_USERS),
                                   item_ids=range(NUM_ITEMS))


@pytest.mark.parametrize("name", CLASSIC)
def test_registered_buildable_and_batched_scores_equal_the_full_computation(name):
    graph = _graph()
    model = _built(name, graph)
    assert isinstance(model, model_class(name)) and model.build_arguments
    assert model_class(name).selects_on_validation is False
    assert hyperparameters(name)  # configurable from files and the CLI
    model.fit(Interactions.from_graph(graph))
    scorer = model.scorer()
    users = torch.arange(NUM_USERS)
    full = scorer(users)
    assert full.shape == (NUM_USERS, NUM_ITEMS) and torch.isfinite(full).all()
    batched = torch.cat([scorer(users[start:start + 4]) for start in range(0, NUM_USERS, 4)])
    torch.testing.assert_close(batched, full, rtol=1e-5, atol=1e-6)
    order = torch.tensor([5, 0, 3])
    torch.testing.assert_close(scorer(order), full[order], rtol=1e-5, atol=1e-6)
    items, _ = model.recommend([0, 1], k=2, exclude=Interactions.from_graph(graph))
    train = _dense()
    assert not train[[[0], [1]], items.numpy()].any()


@pytest.mark.parametrize("name", ["itemknn", "ease", "gfcf", "bspm"])
def test_a_new_user_scores_as_the_training_user_with_the_same_items(name):
    graph = _graph()
    model = _built(name, graph)
    model.fit(Interactions.from_graph(graph))
    # new users 0..2 hold the items of training users 3, 0 and 5
    train = _dense()
    users = [3, 0, 5]
    new_users, items = np.nonzero(train[users])
    histories = Interactions(torch.tensor(np.stack([new_users, items])), 3, NUM_ITEMS)
    torch.testing.assert_close(model.score_histories(histories),
                               model.scorer()(torch.tensor(users)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weighting", ["none", "tfidf", "bm25"])
@pytest.mark.parametrize("penalty", [False, True])
def test_query_columns_get_the_new_columns_row_of_the_stacked_similarity(weighting, penalty):
    x = _random_binary(9, 12, 0.35, seed=4)
    query = _random_binary(9, 1, 0.4, seed=5)
    kwargs = dict(shrink=1.0, similarity="asymmetric", alpha=0.7, weighting=weighting,
                  penalty=penalty)
    stacked = neighbour_similarity(sp.csr_matrix(np.hstack([x, query])), 4, **kwargs)
    got = neighbour_similarity(sp.csr_matrix(x), 4, queries=sp.csr_matrix(query), **kwargs)
    np.testing.assert_allclose(got.toarray(), stacked.toarray()[12:, :12], rtol=1e-12)


def test_userknn_new_user_scores_are_its_neighbours_rows():
    graph = _graph()
    model = _built("userknn", graph)
    model.fit(Interactions.from_graph(graph))
    train = _dense()
    history = np.zeros((NUM_ITEMS, 1))
    history[[0, 1, 5], 0] = 1.0
    neighbours = neighbour_similarity(sp.csr_matrix(train.T), 3, shrink=model.shrink,
                                      weighting=model.weighting,
                                      penalty=model.popular_item_penalty,
                                      queries=sp.csr_matrix(history)).toarray()
    histories = Interactions(torch.tensor([[0, 0, 0], [0, 1, 5]]), 1, NUM_ITEMS)
    np.testing.assert_allclose(model.score_histories(histories).double().numpy(),
                               neighbours @ train, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", CLASSIC)
def test_scoring_before_fit_is_a_clear_error(name):
    model = _built(name, _graph())
    with pytest.raises(RuntimeError, match="fit"):
        model.scorer()(torch.tensor([0]))


@pytest.mark.parametrize("name, kwargs, match", [
    ("itemknn", dict(similarity="jaccard"), "similarity"),
    ("itemknn", dict(similarity="cosine", alpha=0.2), "alpha"),
    ("itemknn", dict(num_neighbours=0), "num_neighbours"),
    ("userknn", dict(weighting="bm26"), "weighting"),
    ("userknn", dict(shrink=-1.0), "shrink"),
    ("ease", dict(reg_weight=0.0), "reg_weight"),
    ("ease", dict(dtype="float16"), "dtype"),
    ("gfcf", dict(factor_dim=-1), "factor_dim"),
    ("bspm", dict(solver="dopri5"), "solver"),
    ("bspm", dict(merge="middle"), "merge"),
    ("bspm", dict(sharpen_steps=0), "sharpen_steps"),
])
def test_bad_hyperparameters_name_the_argument(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _built(name, _graph(), **kwargs)


def test_fit_rejects_a_training_set_of_other_sizes():
    model = ItemKNN(NUM_USERS, NUM_ITEMS + 1)
    with pytest.raises(ValueError, match="items"):
        model.fit(_train())


def test_csr_rows_gathers_rows_in_the_given_order():
    matrix = sp.csr_matrix(_random_binary(7, 5, 0.4, seed=6) * np.arange(1, 6))
    rows = csr_rows(scipy_to_csr(matrix, dtype=torch.float64), torch.tensor([4, 0, 4, 6]))
    np.testing.assert_array_equal(rows.to_dense().numpy(), matrix.toarray()[[4, 0, 4, 6]])


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
def test_each_beats_popularity_on_movielens(data_root):
    from graphrec.data import load_movielens_100k
    from graphrec.experiment import make_split, run_experiment
    from graphrec.train.trainer import TrainConfig

    dataset = load_movielens_100k(data_root, download=False)
    split = make_split(dataset, "random", seed=0)
    config = TrainConfig(device="cpu", progress=False)
    recall = {name: run_experiment(dataset, split, name, {}, config)[1]["test"]["recall@20"]
              for name in ("popularity", *CLASSIC)}
    for name in CLASSIC:
        assert recall[name] > recall["popularity"] + 0.03, recall
