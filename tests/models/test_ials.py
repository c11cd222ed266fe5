import numpy as np
import pytest
import torch

from graphrec.data import load_movielens_100k
from graphrec.experiment import make_split
from graphrec.graph import build_interaction_graph
from graphrec.graph.interactions import Interactions
from graphrec.models import build_model
from graphrec.models.ials import IALS
from graphrec.train.trainer import TrainConfig, Trainer


def _random_train(num_users=30, num_items=20, density=0.3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(num_users, num_items, generator=generator) < density
    mask[3] = False  # a user without interactions
    edge_index = mask.nonzero().t()
    weight = torch.randint(1, 5, (edge_index.size(1),), generator=generator).double()
    return Interactions(edge_index, num_users, num_items, edge_weight=weight)


def _dense(train, alpha, w0, weighting):
    """Confidence and preference matrices as the class docstring defines them."""
    confidence = np.full((train.num_users, train.num_items), w0)
    preference = np.zeros_like(confidence)
    r = train.edge_weight.numpy() if weighting == "linear" else 1.0
    confidence[train.users.numpy(), train.indices.numpy()] = 1.0 + alpha * r
    preference[train.users.numpy(), train.indices.numpy()] = 1.0
    return confidence, preference


def _dense_reg(confidence, reg, nu, axis):
    frequency = confidence.sum(axis)
    return reg * frequency ** nu / np.mean(frequency ** nu)


@pytest.mark.parametrize("nu, w0, weighting", [(0.0, 1.0, "binary"), (1.0, 0.3, "linear"),
                                               (0.5, 2.0, "linear")])
def test_exact_half_steps_equal_dense_normal_equation_solves(nu, w0, weighting):
    train = _random_train()
    model = IALS(train.num_users, train.num_items, embedding_dim=5, reg_weight=0.5, alpha=2.0,
                 unobserved_weight=w0, reg_exponent=nu, weighting=weighting,
                 solver="cholesky").double()
    confidence, preference = _dense(train, 2.0, w0, weighting)
    items = model.item_factors.numpy().copy()
    model.prepare(train)
    model.update_users()
    reg = _dense_reg(confidence, 0.5, nu, axis=1)
    expected = np.stack([np.linalg.solve(items.T @ (confidence[u][:, None] * items)
                                         + reg[u] * np.eye(5),
                                         items.T @ (confidence[u] * preference[u]))
                         for u in range(train.num_users)])
    np.testing.assert_allclose(model.user_factors.numpy(), expected, atol=1e-12)
    assert np.all(expected[3] == 0)  # no interactions: zero right-hand side
    users = model.user_factors.numpy().copy()
    model.update_items()
    reg = _dense_reg(confidence, 0.5, nu, axis=0)
    expected = np.stack([np.linalg.solve(users.T @ (confidence[:, i][:, None] * users)
                                         + reg[i] * np.eye(5),
                                         users.T @ (confidence[:, i] * preference[:, i]))
                         for i in range(train.num_items)])
    np.testing.assert_allclose(model.item_factors.numpy(), expected, atol=1e-12)


def test_objective_matches_the_dense_loss():
    train = _random_train(seed=1)
    model = IALS(train.num_users, train.num_items, embedding_dim=4, reg_weight=0.7, alpha=3.0,
                 unobserved_weight=0.5, reg_exponent=1.0, weighting="linear").double()
    model.prepare(train)
    confidence, preference = _dense(train, 3.0, 0.5, "linear")
    users, items = model.user_factors.numpy(), model.item_factors.numpy()
    expected = ((confidence * (preference - users @ items.T) ** 2).sum()
                + (_dense_reg(confidence, 0.7, 1.0, 1) * (users ** 2).sum(1)).sum()
                + (_dense_reg(confidence, 0.7, 1.0, 0) * (items ** 2).sum(1)).sum())
    assert model.objective() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
@pytest.mark.parametrize("nu", [0.0, 1.0])
def test_objective_decreases_every_sweep(solver, nu):
    train = _random_train(num_users=60, num_items=40, seed=2)
    torch.manual_seed(0)
    model = IALS(train.num_users, train.num_items, embedding_dim=6, reg_weight=0.3, alpha=5.0,
                 reg_exponent=nu, solver=solver, cg_steps=2, iterations=12, init_std=1.0,
                 track_objective=True).double()
    model.prepare(train)
    start = model.objective()
    model.fit(train)
    objectives = [start] + [record["objective"] for record in model.history]
    assert len(model.history) == 12 and all(r["seconds"] >= 0 for r in model.history)
    assert all(later < earlier for earlier, later in zip(objectives, objectives[1:], strict=False))
    # the half-steps decrease it too
    before = model.objective()
    model.update_users()
    middle = model.objective()
    model.update_items()
    assert model.objective() <= middle <= before


def test_cg_is_close_to_the_exact_solve():
    train = _random_train(num_users=50, num_items=30, seed=3)
    torch.manual_seed(0)
    exact = IALS(train.num_users, train.num_items, embedding_dim=6, alpha=4.0, reg_weight=0.2,
                 solver="cholesky", iterations=10, track_objective=True).double()
    # d CG steps solve a d x d system exactly (in exact arithmetic)
    converged = IALS(train.num_users, train.num_items, embedding_dim=6, alpha=4.0,
                     reg_weight=0.2, solver="cg", cg_steps=6, iterations=10,
                     track_objective=True).double()
    few = IALS(train.num_users, train.num_items, embedding_dim=6, alpha=4.0, reg_weight=0.2,
               solver="cg", cg_steps=3, iterations=10, track_objective=True).double()
    converged.load_state_dict(exact.state_dict())
    few.load_state_dict(exact.state_dict())
    exact.prepare(train)
    converged.prepare(train)
    exact.update_users()
    converged.update_users()
    torch.testing.assert_close(converged.user_factors, exact.user_factors, atol=1e-8, rtol=1e-8)
    for model in (exact, converged, few):
        model.fit(train)
    torch.testing.assert_close(converged.user_factors, exact.user_factors, atol=1e-6, rtol=1e-6)
    # three warm-started steps per half-step end within 1 % of the exact objective
    assert few.history[-1]["objective"] == pytest.approx(exact.history[-1]["objective"],
                                                         rel=1e-2)


def test_float32_default_matches_float64():
    train = _random_train(seed=4)
    torch.manual_seed(0)
    single = IALS(train.num_users, train.num_items, embedding_dim=4, iterations=3)
    double = IALS(train.num_users, train.num_items, embedding_dim=4, iterations=3).double()
    double.load_state_dict({k: v.double() for k, v in single.state_dict().items()})
    single.fit(train)
    double.fit(train)
    torch.testing.assert_close(single.user_factors.double(), double.user_factors, atol=1e-4,
                               rtol=1e-4)


def test_registry_trainer_scores_and_recommend():
    graph = build_interaction_graph([0, 0, 1, 2, 2, 3], [0, 1, 1, 2, 4, 4],
                                    user_ids=range(4), item_ids=range(5))
    model = build_model("ials", graph, embedding_dim=3, iterations=2)
    assert isinstance(model, IALS) and not list(model.parameters())
    train = Interactions.from_graph(graph)
    result = Trainer(model, TrainConfig(device="cpu", progress=False)).fit(train)
    assert result.epochs_run == 0 and len(model.history) == 2
    scores = model.scorer()(torch.tensor([0, 2]))
    torch.testing.assert_close(scores, model.user_factors[[0, 2]] @ model.item_factors.t())
    items, _ = model.recommend([0], k=3, exclude=train)
    assert not set(items[0].tolist()) & {0, 1}
    torch.testing.assert_close(model.item_scorer()(torch.tensor([1])),
                               model.item_factors[[1]] @ model.item_factors.t())


def test_moving_the_model_asks_for_prepare_again():
    train = _random_train()
    model = IALS(train.num_users, train.num_items, embedding_dim=3)
    model.prepare(train)
    model.double()
    with pytest.raises(RuntimeError, match="prepare"):
        model.sweep()


def test_bad_arguments():
    with pytest.raises(ValueError, match="reg_weight"):
        IALS(3, 3, reg_weight=0.0)
    with pytest.raises(ValueError, match="solver"):
        IALS(3, 3, solver="lu")
    with pytest.raises(ValueError, match="weighting"):
        IALS(3, 3, weighting="squared")
    with pytest.raises(ValueError, match="unobserved_weight"):
        IALS(3, 3, unobserved_weight=-1.0)
    unweighted = Interactions(torch.tensor([[0, 1], [1, 2]]), 3, 3)
    with pytest.raises(ValueError, match="edge_weight is None"):
        IALS(3, 3, weighting="linear").fit(unweighted)
    with pytest.raises(ValueError, match="built for 4 and 3"):
        IALS(4, 3).fit(unweighted)
    with pytest.raises(RuntimeError, match="fit"):
        IALS(3, 3).objective()


@pytest.mark.realdata
def test_ials_beats_popularity_on_movielens(data_root):
    dataset = load_movielens_100k(data_root, download=False)
    split = make_split(dataset, "random", seed=0)
    train, valid, test = (Interactions.from_graph(g) for g in (split.train, split.valid,
                                                                 split.test))
    recall = {}
    for name, kwargs in (("popularity", {}), ("ials", {"iterations": 8})):
        torch.manual_seed(0)
        model = build_model(name, split.train, **kwargs)
        trainer = Trainer(model, TrainConfig(device="cpu", progress=False))
        trainer.fit(train)
        recall[name] = trainer.evaluate(test, exclude=[train, valid]).metrics["recall@20"]
    assert recall["ials"] > recall["popularity"] + 0.05, recall
