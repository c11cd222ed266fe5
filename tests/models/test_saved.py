"""Saved models: every registered model round-trips through save/load and recommends
identically; raw ids, exclusion, new-user fold-in, atomic saves, safe loading."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

import graphrec
from graphrec.graph import build_interaction_graph
from graphrec.graph.build import ITEM, USER, IdMap
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import leave_one_out
from graphrec.models import MF, MODELS, LightGCN, build_model
from graphrec.models import saved as saved_module
from graphrec.models.saved import Recommendation, SavedModel, SavedModelError
from graphrec.models.skipgram import SkipGram
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.sampling.skipgram import SkipGramCorpus
from graphrec.train.trainer import TrainConfig, Trainer

NUM_USERS, NUM_ITEMS = 40, 30

# small settings per model (models not listed are built with their defaults)
SMALL = {
    "mf": dict(embedding_dim=8),
    "lightgcn": dict(embedding_dim=8, num_layers=2),
    "sociallgn": dict(embedding_dim=8, num_layers=2),
    "lite_eiisrs": dict(embedding_dim=8, num_layers=2,
                        fusion={"token_dim": 8, "feature_hidden": 8},
                        social={"enabled": True}, head={"enabled": True}),
    "pinsage": dict(embedding_dim=8, num_layers=2, num_folds=2,
                    neighborhoods={"num_walks": 32, "walk_length": 4},
                    negatives={"num_easy": 8, "max_hard": 2, "hard_walks": 32, "hard_pool": 4,
                               "hard_ranks": (0.05, 0.2)}),
    "pixie": dict(num_walks=64),
    "sasrec": dict(embedding_dim=8, maxlen=6, num_blocks=1),
    "tisasrec": dict(embedding_dim=8, maxlen=6, num_blocks=1, time_span=8),
    "two_tower": dict(embedding_dim=8, hidden_dims=(8,), maxlen=6, frequency_buckets=64),
    "youtube_dnn": dict(embedding_dim=8, hidden_dims=(8,), maxlen=6, num_negatives=8,
                        frequency_buckets=64),
}


def community_graph(num_users: int = NUM_USERS, num_items: int = NUM_ITEMS,
                    per_user: int = 8, communities: int = 2, seed: int = 0,
                    item_ids: list | None = None):
    """Users and items in communities (index mod ``communities``); each user engages with
    ``per_user`` items of their community at increasing times and follows two users of it.
    Raw user ids are strings, raw item ids ints (unless ``item_ids``); items have names and
    a one-hot community feature."""
    gen = torch.Generator().manual_seed(seed)
    users, items = [], []
    for user in range(num_users):
        pool = torch.arange(user % communities, num_items, communities)
        chosen = pool[torch.randperm(pool.numel(), generator=gen)[:per_user]]
        users += [f"u{user}"] * chosen.numel()
        items += chosen.tolist()
    raw_items = item_ids or [100 + i for i in range(num_items)]
    x = torch.zeros(num_items, communities)
    x[torch.arange(num_items), torch.arange(num_items) % communities] = 1.0
    follows = ([f"u{u}" for u in range(num_users) for _ in range(2)],
               [f"u{(u + communities * (k + 1)) % num_users}" for u in range(num_users)
                for k in range(2)])
    graph = build_interaction_graph(
        users, [raw_items[i] for i in items], times=torch.arange(len(users)) * 10,
        weights=(torch.arange(len(users)) % 5 + 1).float(),  # ratings 1-5 (FunkSVD)
        social=follows, user_ids=[f"u{u}" for u in range(num_users)], item_ids=raw_items,
        item_features=x, keep_order=True)
    graph[ITEM].name = [f"item {raw}" for raw in raw_items]
    # a side-information field (EGES): each item's community
    graph["community"].num_nodes = communities
    graph[ITEM, "in_community", "community"].edge_index = torch.stack(
        [torch.arange(num_items), torch.arange(num_items) % communities])
    return graph


def train_model(name: str, split, epochs: int = 2, **overrides):
    torch.manual_seed(0)
    model = build_model(name, split.train, **{**SMALL.get(name, {}), **overrides})
    config = TrainConfig(epochs=epochs, batch_size=64, lr=5e-3, device="cpu", progress=False,
                         seed=0, patience=0)
    train = Interactions.from_graph(split.train)
    valid = None if split.valid is None else Interactions.from_graph(split.valid)
    Trainer(model, config).fit(train, valid)
    return model


@pytest.fixture(scope="module")
def split():
    return leave_one_out(community_graph())


@pytest.fixture(scope="module")
def trained(split):
    """Every registered model, trained for 2 epochs (built once per test module)."""
    return {name: train_model(name, split) for name in sorted(MODELS)}


def _known(split) -> list[Interactions]:
    return [Interactions.from_graph(split.train), Interactions.from_graph(split.valid)]


# ----------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_recommends_identically_after_save_and_load(name, split, trained,
                                                                tmp_path):
    model = trained[name]
    model.save(tmp_path / name, exclude=split.valid)
    loaded = graphrec.load(tmp_path / name)
    assert isinstance(loaded, SavedModel) and type(loaded.model) is type(model)
    assert loaded.model.build_arguments == model.build_arguments
    users = torch.arange(NUM_USERS)
    items, scores = model.recommend(users, k=10, exclude=_known(split))
    loaded_items, loaded_scores = loaded.model.recommend(users, k=10, exclude=loaded.known)
    assert torch.equal(loaded_items, items)
    assert torch.equal(loaded_scores, scores)
    # the weights are the trained ones, not a fresh build's
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(loaded.model.state_dict()[key], value), key
    # raw-id recommend = index-based recommend mapped through the id maps
    raw_users = [f"u{u}" for u in range(NUM_USERS)]
    lists = loaded.recommend(raw_users, k=10)
    id_map, names = split.train[ITEM].id_map, split.train[ITEM].name
    for user, found in enumerate(lists):
        assert [r.item for r in found] == id_map.raw(items[user])
        assert [r.name for r in found] == [names[i] for i in items[user].tolist()]
        assert [r.score for r in found] == pytest.approx(scores[user].tolist(), rel=0, abs=0)


def test_saved_folder_holds_config_graph_weights_and_known(split, trained, tmp_path):
    trained["pinsage"].save(tmp_path / "m", exclude=split.valid)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"] == "pinsage" and config["num_extra_known"] == 1
    assert config["build_arguments"]["negatives"]["hard_ranks"] == {"__tuple__": [0.05, 0.2]}
    loaded = graphrec.load(tmp_path / "m")
    # tuples stay tuples, in a typed group too
    assert loaded.model.build_arguments["negatives"].hard_ranks == (0.05, 0.2)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json", "graph.json", "graph.pt", "known.pt", "weights.pt"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging folder left


@pytest.mark.parametrize("name", ["pinsage", "lite_eiisrs"])
def test_typed_groups_are_saved_as_tables_and_load_as_their_dataclasses(name, trained,
                                                                         tmp_path):
    model = trained[name]
    groups = {key: value for key, value in model.build_arguments.items()
              if dataclasses.is_dataclass(value)}
    assert groups  # build_model turned the SMALL tables into the dataclasses
    model.save(tmp_path / name)
    config = json.loads((tmp_path / name / "config.json").read_text())
    for key, group in groups.items():
        table = config["build_arguments"][key]  # every field, not only the changed ones
        assert sorted(table) == sorted(field.name for field in dataclasses.fields(group))
    loaded = graphrec.load(tmp_path / name).model
    for key, group in groups.items():
        assert type(loaded.build_arguments[key]) is type(group)
        assert loaded.build_arguments[key] == group
    if name == "pinsage":
        assert loaded.negatives == model.negatives and loaded.negatives.max_hard == 2
        assert loaded.neighborhoods.num_walks == 32
    else:
        assert loaded.social.enabled and loaded.use_social and loaded.head.enabled
        assert loaded.fusion.token_dim == 8 and loaded.user_fusion.out_channels == 8 * 5


def test_training_graph_round_trips_with_every_attribute(tmp_path):
    graph = community_graph()
    # LastFM-like extras: a tag node type with names and an id map, edge attributes
    graph["tag"].num_nodes = 3
    graph["tag"].name = ["rock", "jazz", "pop"]
    graph["tag"].id_map = IdMap(["t1", "t2", "t3"])
    graph["item", "has_tag", "tag"].edge_index = torch.tensor([[0, 1, 2], [0, 1, 2]])
    graph["item", "has_tag", "tag"].edge_weight = torch.tensor([1.0, 2.0, 3.0])
    graph.source = "synthetic"  # graph-level attributes too
    graph.day_seconds = torch.tensor(86400)
    build_model("popularity", graph).save(tmp_path / "m")
    loaded = graphrec.load(tmp_path / "m").graph
    assert loaded.node_types == graph.node_types and loaded.edge_types == graph.edge_types
    assert loaded.source == "synthetic" and torch.equal(loaded.day_seconds, graph.day_seconds)
    for key in (*graph.node_types, *graph.edge_types):
        original, restored = graph[key], loaded[key]
        assert set(original.keys()) == set(restored.keys()), key
        for attribute, value in original.items():
            other = restored[attribute]
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other) and value.dtype == other.dtype
            elif isinstance(value, IdMap):
                assert other.raw_ids == value.raw_ids
            else:
                assert other == value


# -------------------------------------------------------------------------------- raw ids
def test_known_items_are_excluded_unless_asked(split, trained, tmp_path):
    trained["popularity"].save(tmp_path / "m", exclude=split.valid)
    loaded = graphrec.load(tmp_path / "m")
    train, valid = _known(split)
    known = {(u, i) for part in (train, valid) for u, i in part.edge_index.t().tolist()}
    lists = loaded.recommend([f"u{u}" for u in range(NUM_USERS)], k=30)
    for user, found in enumerate(lists):
        indices = loaded.item_index([r.item for r in found]).tolist()
        assert not {(user, i) for i in indices} & known
        # k exceeds the unknown items: the list holds exactly the unknown ones
        assert len(found) == NUM_ITEMS - sum(1 for u, _ in known if u == user)
    # with known items: the popularity list itself
    everything = loaded.recommend("u0", k=5, exclude_known=False)[0]
    popular = torch.sort(-train.item_degree(), stable=True).indices[:5]
    assert [r.item for r in everything] == loaded.item_ids.raw(popular)


def test_unknown_ids_and_bad_arguments_are_named(split, trained, tmp_path):
    trained["mf"].save(tmp_path / "m")
    loaded = graphrec.load(tmp_path / "m")
    with pytest.raises(KeyError, match="unknown user id 'nobody'"):
        loaded.recommend(["u1", "nobody"])
    with pytest.raises(KeyError, match="unknown user id 1"):
        loaded.recommend([1])  # raw user ids are strings here: the int 1 is not one
    with pytest.raises(KeyError, match="unknown item id 'x'"):
        loaded.recommend_for_items([100, "x"])
    with pytest.raises(ValueError, match="at least one item"):
        loaded.recommend_for_items([])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        loaded.recommend(["u1"], k=0)


def test_string_item_ids_keep_their_type(tmp_path):
    raw_items = [f"artist-{i}" for i in range(NUM_ITEMS)]
    split = leave_one_out(community_graph(item_ids=raw_items))
    model = train_model("lightgcn", split, epochs=1)
    model.save(tmp_path / "m")
    loaded = graphrec.load(tmp_path / "m")
    found = loaded.recommend(["u3"], k=5)[0]
    assert all(isinstance(r.item, str) and r.item.startswith("artist-") for r in found)
    assert [r.name for r in found] == [f"item {r.item}" for r in found]
    assert loaded.user_ids.raw_ids == [f"u{u}" for u in range(NUM_USERS)]


# ----------------------------------------------------------------------------- new users
@pytest.mark.parametrize("name", sorted(MODELS))
def test_new_user_history_is_never_recommended(name, trained, split, tmp_path):
    trained[name].save(tmp_path / name)
    loaded = graphrec.load(tmp_path / name)
    history = [100, 102, 104]  # community 0
    found = loaded.recommend_for_items(history, k=10)
    assert len(found) == 10
    assert not {r.item for r in found} & set(history)
    assert all(isinstance(r, Recommendation) and np.isfinite(r.score) for r in found)
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)


def test_mf_fold_in_solves_the_ridge_regression():
    graph = community_graph()
    torch.manual_seed(0)
    model = MF.from_graph(graph, embedding_dim=4)
    history = Interactions(torch.tensor([[0, 0, 1], [3, 5, 7]]), 2, NUM_ITEMS)
    scores = model.score_histories(history)
    q = model.item_embedding.weight.detach().double().numpy()
    ridge = MF.fold_in_ridge * (q ** 2).sum(1).mean()
    for row, items in ((0, [3, 5]), (1, [7])):
        qh = q[items]
        p = np.linalg.solve(qh.T @ qh + ridge * np.eye(4), qh.sum(0))
        np.testing.assert_allclose(scores[row].detach().numpy(), q @ p, rtol=1e-5, atol=1e-6)


def test_mf_fold_in_of_a_users_history_reproduces_their_ranking():
    graph = community_graph(num_users=200, num_items=120, per_user=12, communities=4)
    train = Interactions.from_graph(graph)
    torch.manual_seed(0)
    model = MF.from_graph(graph, embedding_dim=16)
    Trainer(model, TrainConfig(epochs=40, batch_size=256, lr=1e-2, device="cpu",
                               progress=False, seed=0)).fit(train)
    model.eval()
    users = torch.arange(train.num_users)
    with torch.no_grad():
        trained_top, _ = model.recommend(users, k=10, exclude=train)
        history = Interactions(train.edge_index, train.num_users, train.num_items)
        scores = model.score_histories(history)
        scores[train.rows(users)] = float("-inf")
        fold_top = scores.topk(10, dim=1).indices
        popular = torch.sort(-train.item_degree(), stable=True).indices
        pop_scores = torch.zeros(train.num_users, train.num_items)
        pop_scores[:, popular] = -torch.arange(train.num_items, dtype=torch.float32)
        pop_scores[train.rows(users)] = float("-inf")
        pop_top = pop_scores.topk(10, dim=1).indices

    def overlap(a, b):
        return (a.unsqueeze(2) == b.unsqueeze(1)).any(2).float().mean().item()

    assert overlap(fold_top, trained_top) > 0.7
    assert overlap(fold_top, trained_top) > overlap(pop_top, trained_top) + 0.3
    # and the fold-in stays in the user's community, as the trained vectors do
    community = torch.arange(train.num_items) % 4
    assert (community[fold_top] == (users % 4).unsqueeze(1)).float().mean() > 0.9


@pytest.mark.parametrize("normalize, alpha", [("sym", 0.0), ("row", 0.1)])
def test_lightgcn_fold_in_is_propagation_to_a_new_node(normalize, alpha):
    graph = community_graph()
    torch.manual_seed(0)
    model = LightGCN.from_graph(graph, embedding_dim=4, num_layers=2, normalize=normalize,
                                residual_alpha=alpha)
    history = Interactions(torch.tensor([[0, 0, 0], [1, 3, 9]]), 1, NUM_ITEMS)
    with torch.no_grad():
        scores = model.score_histories(history)
        layers = list(model.layers())
        _, item_emb = model()
    degree = Interactions.from_graph(graph).item_degree().float()
    items = torch.tensor([1, 3, 9])
    coef = ((3 * (degree[items] + 1)).rsqrt() if normalize == "sym"
            else torch.full((3,), 1 / 3))
    user = torch.zeros(4)  # layer 0
    total = user.clone()
    for layer in layers[:-1]:  # e_u^(l+1) from the items' layer l (no residual: x0_u = 0)
        user = (coef.unsqueeze(1) * layer[NUM_USERS + items]).sum(0)
        total = total + user
    expected = (total / 3) @ item_emb.t()
    torch.testing.assert_close(scores[0], expected, rtol=1e-5, atol=1e-6)


def test_pinsage_and_sequence_fold_in_of_a_trained_users_items_is_their_score(trained,
                                                                             split):
    train = Interactions.from_graph(split.train)
    users = torch.arange(NUM_USERS)
    with torch.no_grad():
        for name in ("pinsage", "sasrec", "tisasrec"):
            model = trained[name].eval()
            torch.testing.assert_close(model.score_histories(train),
                                       model.scorer_from(train)(users))


def test_default_fold_in_sums_item_to_item_rows(trained, split):
    model = trained["popularity"]
    history = Interactions(torch.tensor([[0, 0], [4, 6]]), 1, NUM_ITEMS)
    torch.testing.assert_close(model.score_histories(history)[0], 2 * model.item_score)


def test_tisasrec_reads_new_histories_times(trained, tmp_path):
    trained["tisasrec"].save(tmp_path / "m")
    loaded = graphrec.load(tmp_path / "m")
    history = [100, 102, 104, 106]
    spaced = loaded.recommend_for_items(history, k=5)
    assert loaded.recommend_for_items(history, k=5, times=[0, 1, 2, 3]) == spaced
    assert loaded.recommend_for_items(history, k=5, times=[0, 1, 2, 50]) != spaced
    with pytest.raises(ValueError, match="times has 2 values for 4 items"):
        loaded.recommend_for_items(history, times=[0, 1])


# -------------------------------------------------------------------------- fitted state
def test_pixie_walk_graph_and_pinsage_tables_travel_in_the_state_dict(trained, tmp_path):
    pixie = trained["pixie"]
    assert "_extra_state" in pixie.state_dict()
    pixie.save(tmp_path / "pixie")
    graph = graphrec.load(tmp_path / "pixie").model.graph
    for key in ("indptr", "indices", "keys", "out_degree"):
        assert torch.equal(getattr(graph, key), getattr(pixie.graph, key))
    pinsage = trained["pinsage"]
    pinsage.save(tmp_path / "pinsage")
    loaded = graphrec.load(tmp_path / "pinsage").model
    for got, want in zip(loaded.full_sampler.neighborhoods.table(),
                         pinsage.full_sampler.neighborhoods.table(), strict=True):
        assert torch.equal(got, want)
    assert torch.equal(loaded.hard_negatives, pinsage.hard_negatives)
    # an unfitted model saves no table and loads unfitted
    fresh = build_model("pixie", pixie.build_graph)
    fresh.load_state_dict(fresh.state_dict())
    assert fresh.graph is None


def test_weighted_pixie_round_trips(split, tmp_path):
    graph = community_graph()
    store = graph["user", "interacts", "item"]
    store.edge_weight = torch.arange(1, store.edge_index.size(1) + 1, dtype=torch.float32)
    model = build_model("pixie", graph, num_walks=64, weighted=True)
    model.fit(Interactions.from_graph(graph))
    model.save(tmp_path / "m")
    loaded = graphrec.load(tmp_path / "m")
    assert torch.equal(loaded.model.graph.cum_weights, model.graph.cum_weights)
    users = torch.arange(NUM_USERS)
    assert torch.equal(loaded.model.scorer()(users), model.scorer()(users))


# ------------------------------------------------------------------------------ failures
def test_a_failed_save_leaves_the_previous_one(split, trained, tmp_path, monkeypatch):
    folder = tmp_path / "m"
    trained["mf"].save(folder)
    before = graphrec.load(folder).recommend(["u1", "u2"], k=5)

    calls = []

    def fail_on_second(obj, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(obj, path)

    original = saved_module.atomic_torch_save
    monkeypatch.setattr(saved_module, "atomic_torch_save", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        trained["lightgcn"].save(folder)
    monkeypatch.undo()
    assert graphrec.load(folder).name == "mf"
    assert graphrec.load(folder).recommend(["u1", "u2"], k=5) == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # the staging folder is gone

    # a failure at the swap itself: the previous folder is moved back
    real_replace = saved_module.os.replace

    def fail_swap(src, dst):
        if str(src).endswith(".saving"):
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(saved_module.os, "replace", fail_swap)
    with pytest.raises(OSError, match="rename failed"):
        trained["lightgcn"].save(folder)
    monkeypatch.undo()
    assert graphrec.load(folder).recommend(["u1", "u2"], k=5) == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    # and a successful save replaces it
    trained["lightgcn"].save(folder)
    assert graphrec.load(folder).name == "lightgcn"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_loading_refuses_pickled_objects(trained, tmp_path):
    trained["mf"].save(tmp_path / "m")
    torch.save({"user_embedding.weight": torch.zeros(1), "payload": Recommendation(1, 2.0)},
               tmp_path / "m" / "weights.pt")
    with pytest.raises(SavedModelError, match="weights.pt: refused to load"):
        graphrec.load(tmp_path / "m")


def test_what_cannot_be_saved_is_named(split, tmp_path):
    graph = community_graph()
    graph[ITEM].shelf = object()
    with pytest.raises(SavedModelError, match=r"graph\['item'\]\.shelf: a object"):
        build_model("popularity", graph).save(tmp_path / "a")
    graph = community_graph()
    graph[ITEM].scale = float("nan")
    with pytest.raises(SavedModelError, match=r"graph\['item'\]\.scale = nan"):
        build_model("popularity", graph).save(tmp_path / "a")
    graph = community_graph()
    with pytest.raises(ValueError, match="reg_weight"):  # refused before anything is built
        build_model("mf", graph, reg_weight=float("inf"))
    shared = ItemEmbedding(NUM_ITEMS, 8)
    with pytest.raises(SavedModelError, match="build argument 'item_embedding'"):
        build_model("mf", graph, embedding_dim=8, item_embedding=shared).save(tmp_path / "b")
    with pytest.raises(SavedModelError, match="not built by from_graph"):
        MF(3, 4).save(tmp_path / "c")
    corpus = SkipGramCorpus.from_walks(torch.tensor([[0, 1, 2]]), 3)
    with pytest.raises(SavedModelError, match="SkipGram was not built by from_graph"):
        SkipGram(2, 3, corpus, embedding_dim=4).save(tmp_path / "d")

    class Unregistered(MF):
        pass

    with pytest.raises(SavedModelError, match="Unregistered is not a registered model"):
        Unregistered.from_graph(graph, embedding_dim=8).save(tmp_path / "e")
    assert not any(tmp_path.iterdir())  # nothing written by any of them
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(SavedModelError, match="non-empty folder without config.json"):
        build_model("popularity", community_graph()).save(tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_loading_what_is_not_a_saved_model(tmp_path):
    with pytest.raises(SavedModelError, match="config.json missing"):
        graphrec.load(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "other"}')
    with pytest.raises(SavedModelError, match="not a graphrec saved-model config"):
        graphrec.load(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "graphrec-saved-model", "version": 99}')
    with pytest.raises(SavedModelError, match="version 99 is not supported"):
        graphrec.load(tmp_path)


def test_graphrec_load_is_exported_lazily():
    assert graphrec.load is saved_module.load
    assert "load" in dir(graphrec)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        graphrec.nothing  # noqa: B018


def test_index_graph_without_raw_ids_uses_indices(tmp_path):
    graph = community_graph()
    del graph[USER].id_map
    build_model("popularity", graph).save(tmp_path / "m")
    loaded = graphrec.load(tmp_path / "m")
    assert loaded.user_ids.raw_ids == list(range(NUM_USERS))
    assert len(loaded.recommend([0], k=3)[0]) == 3


def test_saved_folder_has_ordinary_permissions(trained, tmp_path):
    trained["mf"].save(tmp_path / "m")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o777 & ~umask
    assert all(path.stat().st_mode & 0o777 == 0o666 & ~umask
               for path in (tmp_path / "m").iterdir())
