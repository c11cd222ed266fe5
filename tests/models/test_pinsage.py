import dataclasses

import pytest
import torch

from graphrec.eval.item_to_item import ItemToItemEvaluator, last_items, top_weighted_items
from graphrec.graph import build_interaction_graph
from graphrec.graph.build import ITEM
from graphrec.graph.interactions import Interactions
from graphrec.models import PinSAGE, Pixie, Popularity
from graphrec.models.pinsage import (
    NegativeSettings,
    NeighborhoodSettings,
    ObjectiveSettings,
    OutputSettings,
    PinSAGEInputs,
)
from graphrec.train import TrainConfig
from graphrec.train.trainer import Trainer


def _graph(with_time: bool = True, num_users: int = 30, num_items: int = 24, seed: int = 0):
    """Two communities of users and items (even / odd), each user engaging with 6 items of
    their community; items carry a one-hot community feature; the last item is cold."""
    gen = torch.Generator().manual_seed(seed)
    users, items = [], []
    for user in range(num_users):
        side = user % 2
        pool = torch.arange(side, num_items - 2, 2)
        chosen = pool[torch.randperm(pool.numel(), generator=gen)[:6]]
        users += [user] * chosen.numel()
        items += chosen.tolist()
    times = torch.arange(len(users)) if with_time else None
    x = torch.zeros(num_items, 2)
    x[torch.arange(num_items), torch.arange(num_items) % 2] = 1.0
    return build_interaction_graph(users, items, times=times, user_ids=range(num_users),
                                   item_ids=range(num_items), item_features=x)


GROUPS = {"inputs": PinSAGEInputs, "neighborhoods": NeighborhoodSettings,
          "negatives": NegativeSettings, "objective": ObjectiveSettings,
          "output": OutputSettings}


def _small_model(graph, **kwargs):
    """A small PinSAGE; a group given as a dict changes those fields of the small settings'
    group (or of the default group)."""
    settings = dict(embedding_dim=16, num_layers=2, num_folds=3,
                    neighborhoods=NeighborhoodSettings(num_walks=32, walk_length=4),
                    negatives=NegativeSettings(num_easy=8, max_hard=3, hard_walks=64,
                                               hard_pool=4))
    for key, value in kwargs.items():
        if isinstance(value, dict):
            value = dataclasses.replace(settings.get(key, GROUPS[key]()), **value)
        settings[key] = value
    torch.manual_seed(0)
    return PinSAGE.from_graph(graph, **settings)


def test_batches_curriculum_folds_and_no_leakage():
    graph = _graph()
    model = _small_model(graph)
    train = Interactions.from_graph(graph)
    model.fit(train)
    batches = model.train_batches(train, batch_size=16, device="cpu", seed=0)
    for epoch in range(1, 6):
        seen = 0
        for batch in batches:
            assert batch.hard_negatives.shape == (len(batch), min(epoch - 1, 3))
            assert batch.easy_negatives.numel() == 8
            # query and positive were engaged by one user
            assert bool((batch.query != batch.positive).all())
            # the positive's edge is not in the graph the neighbourhoods are walked on
            sampler = batches.sampler((epoch - 1) % 3)
            walk_graph = sampler.neighborhoods.graph
            fold_edges = train.edge_index[:, batches.fold == (epoch - 1) % 3]
            assert not bool(walk_graph.has_edge(fold_edges[0],
                                                fold_edges[1] + train.num_users).any())
            sub = batch.subgraph
            expected = torch.cat([batch.query, batch.positive, batch.easy_negatives,
                                  batch.hard_negatives.reshape(-1)])
            assert torch.equal(sub.nodes[:sub.num_targets][sub.target_index], expected)
            seen += len(batch)
        assert seen > 0
    assert batches.epoch == 5
    no_curriculum = _small_model(graph, negatives={"curriculum": False})
    no_curriculum.fit(train)
    first = next(iter(no_curriculum.train_batches(train, 16, "cpu", 0)))
    assert first.hard_negatives.size(1) == 3


def test_consecutive_pairs_follow_time():
    # user 0 engages items 3, 1, 2 in this time order; user 1 items 0, 1
    graph = build_interaction_graph([0, 0, 0, 1, 1], [3, 1, 2, 0, 1], times=[5, 1, 3, 1, 2],
                                    user_ids=range(2), item_ids=range(4),
                                    item_features=torch.eye(4))
    model = _small_model(graph, num_folds=1, negatives={"num_easy": 2})
    train = Interactions.from_graph(graph)
    model.fit(train)
    batches = model.train_batches(train, batch_size=16, device="cpu", seed=0)
    pairs = {(int(q), int(p)) for q, p in zip(batches.partner, train.indices, strict=True)}
    # positive 1 (user 0's first) pairs with the next item, 2 with 1, 3 with 2; user 1's
    # item 0 (first) with 1, item 1 with 0
    assert pairs == {(2, 1), (1, 2), (2, 3), (1, 0), (0, 1)}


def test_training_loss_decreases_and_embeddings():
    graph = _graph()
    model = _small_model(graph, objective={"margin": 0.5},
                         negatives={"max_hard": 0})  # the curriculum adds loss terms
    train = Interactions.from_graph(graph)
    trainer = Trainer(model, TrainConfig(epochs=30, batch_size=32, lr=1e-2, device="cpu",
                                         progress=False, patience=0))
    result = trainer.fit(train)
    losses = [record["loss"] for record in result.history]
    # same-community easy negatives keep a floor under the hinge: it cannot reach 0
    assert losses[-1] < 0.75 * losses[0]
    model.eval()
    z = model.item_embeddings()
    assert z.shape == (24, 16)
    norms = z.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(24))  # unit rows, the cold item too
    # communities: an item's nearest items are mostly from its own community
    found, _ = model.similar_items(torch.arange(22), k=5)
    assert not bool((found == torch.arange(22).unsqueeze(1)).any())
    same = (found % 2 == torch.arange(22).unsqueeze(1) % 2).float().mean()
    assert same > 0.8
    # the cold item (23, odd) has an embedding from its features: closer to odd items
    cold = z[23]
    assert (z[1:22:2] @ cold).mean() > (z[0:22:2] @ cold).mean()
    # users are the mean of their training items' embeddings
    users = model.user_embeddings()
    items_of_user3 = train.indices[train.users == 3]
    torch.testing.assert_close(users[3], z[items_of_user3].mean(0))
    scores = model.scorer()(torch.tensor([3]))
    torch.testing.assert_close(scores[0], z @ users[3])


def test_faiss_backend_matches_exact():
    pytest.importorskip("faiss")
    graph = _graph()
    model = _small_model(graph)
    model.fit(Interactions.from_graph(graph))
    exact, _ = model.similar_items(torch.arange(5), k=3)
    approx, _ = model.similar_items(torch.arange(5), k=3, backend="faiss")
    assert torch.equal(exact, approx)


def test_item_to_item_evaluator_hand_case():
    """Queries 0 -> target 2 ranked 2nd by Popularity; user 1's target is ranked 1st."""
    train = Interactions(torch.tensor([[0, 0, 1, 2, 2, 2], [0, 1, 3, 2, 1, 3]]), 3, 4)
    time = torch.tensor([1.0, 2.0, 1.0, 1.0, 2.0, 3.0])
    queries = last_items(train, time)
    # user 0's edges sorted by item: (0, 0) t=1, (0, 1) t=2 -> item 1; user 2: items 1, 2, 3
    # with times 2, 1, 3 -> item 3
    assert queries.tolist() == [1, 3, 3]
    popularity = Popularity(3, 4)
    popularity.fit(train)  # degrees 1, 2, 1, 2 -> order 1, 3, 0, 2
    target = Interactions(torch.tensor([[0, 1], [0, 1]]), 3, 4)
    result = ItemToItemEvaluator(queries, ks=(1, 2), metrics=("hit", "mrr")).evaluate(
        popularity, target)
    # user 0: query 1 removed -> ranking 3, 0, 2: target 0 at rank 2
    # user 1: query 3 removed -> ranking 1, 0, 2: target 1 at rank 1
    assert result.num_users == 2
    assert result["hit@1"] == pytest.approx(0.5)
    assert result["hit@2"] == pytest.approx(1.0)
    assert result["mrr@2"] == pytest.approx((0.5 + 1.0) / 2)
    # user 2's items 2 and 1 tie at weight 4: the smaller item wins
    weighted = Interactions(torch.tensor([[0, 0, 1, 2, 2, 2], [0, 1, 3, 2, 1, 3]]), 3, 4,
                            edge_weight=torch.tensor([5.0, 1.0, 2.0, 4.0, 4.0, 1.0]))
    assert top_weighted_items(weighted).tolist() == [0, 3, 1]


def test_pixie_counts_walk_visits():
    graph = _graph()
    train = Interactions.from_graph(graph)
    pixie = Pixie.from_graph(graph, num_walks=200, walk_length=4)
    pixie.fit(train)
    scores = pixie.item_scorer()(torch.tensor([0, 1]))
    # walks stay in their community: odd items never reached from item 0
    reached = scores[0] >= 1
    assert bool(reached[2:22:2].any()) and not bool(reached[1::2].any())
    # the same seed gives the same scores
    assert torch.equal(scores, pixie.item_scorer()(torch.tensor([0, 1])))
    assert graph[ITEM].num_nodes == scores.size(1)


def test_output_layer_options():
    graph = _graph()
    train = Interactions.from_graph(graph)
    for normalize in (True, False):
        model = _small_model(graph, output={"dense_layers": True, "normalize": normalize})
        model.fit(train)
        norms = model.item_embeddings().norm(dim=1)
        assert bool(torch.allclose(norms, torch.ones(24))) == normalize
        batch = next(iter(model.train_batches(train, 16, "cpu", 0)))
        model.loss(batch).backward()
        assert model.output[0].weight.grad is not None


def test_output_gate_scales_unit_vectors_by_the_sigmoid_of_a_linear_map():
    graph = _graph()
    train = Interactions.from_graph(graph)
    model = _small_model(graph, output={"gate": True})
    model.fit(train)
    gated = model.item_embeddings()
    model.gate, gate = None, model.gate
    unit = model.item_embeddings()  # the same model without its gate: unit-norm rows
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(24))
    with torch.no_grad():
        expected = unit * torch.sigmoid(unit @ gate.weight.t() + gate.bias)
    torch.testing.assert_close(gated, expected)
    norms = gated.norm(dim=1)
    assert bool(((norms > 0) & (norms < 1)).all())
    model.gate = gate
    batch = next(iter(model.train_batches(train, 16, "cpu", 0)))
    model.loss(batch).backward()
    assert gate.weight.grad is not None and gate.weight.grad.abs().sum() > 0


def test_weighted_queries_follow_interaction_weights():
    # user 0: items 0, 1, 2 with weights 1, 3, 0; user 1: items 3, 4 with weights 2, 2;
    # user 2: item 5 alone (no partner)
    graph = build_interaction_graph([0, 0, 0, 1, 1, 2], [0, 1, 2, 3, 4, 5],
                                    weights=[1.0, 3.0, 0.0, 2.0, 2.0, 5.0],
                                    user_ids=range(3), item_ids=range(6),
                                    item_features=torch.eye(6))
    train = Interactions.from_graph(graph)
    model = _small_model(graph, num_folds=1, negatives={"num_easy": 2})  # default exponent 1
    model.fit(train)
    batches = model.train_batches(train, batch_size=16, device="cpu", seed=0)
    edges = torch.arange(train.num_interactions).repeat(4000)
    partner = batches._random_partner(edges)
    users = train.users[edges]
    # never the edge's own item; always an item of the same user; -1 for a lone item
    own = train.indices[edges]
    assert bool((partner != own).all())
    assert bool((partner[users == 2] == -1).all())
    has = partner >= 0
    assert bool(train.contains(users[has], partner[has]).all())
    # zero weight is never drawn; probabilities proportional to the other items' weights
    assert not bool((partner == 2).any())
    of_item2 = partner[own == 2]  # other items 0 (w 1) and 1 (w 3)
    assert abs(float((of_item2 == 1).float().mean()) - 0.75) < 0.03
    assert bool((partner[own == 0] == 1).all()) and bool((partner[own == 1] == 0).all())
    of_item3 = partner[own == 3]
    assert bool((of_item3 == 4).all())
    # exponent 0 keeps the uniform draw (and ignores the weights)
    uniform = _small_model(graph, num_folds=1, negatives={"num_easy": 2},
                           query_weight_exponent=0.0)
    uniform.fit(train)
    draws = uniform.train_batches(train, 16, "cpu", 0)._random_partner(edges)
    assert abs(float((draws[own == 2] == 1).float().mean()) - 0.5) < 0.03


def test_tag_popularity_feature():
    from graphrec.graph.item_features import tag_popularity
    graph = _graph()
    assert tag_popularity(graph) is None
    graph["tag"].num_nodes = 3
    graph["item", "has_tag", "tag"].edge_index = torch.tensor([[0, 0, 1], [0, 1, 2]])
    graph["item", "has_tag", "tag"].edge_weight = torch.tensor([1.0, 2.0, 1.0])
    value = tag_popularity(graph)
    assert value.shape == (24, 1)
    expected = torch.zeros(24)
    expected[0], expected[1] = 1.0, float(torch.log1p(torch.tensor(1.0)) /
                                          torch.log1p(torch.tensor(3.0)))
    torch.testing.assert_close(value.view(-1), expected)
    model = _small_model(graph)
    assert model.input.x.shape == (24, 3)  # the 2 features and the popularity column
    assert _small_model(graph, inputs={"use_tag_popularity": False}).input.x.shape == (24, 2)


def test_easy_negatives_follow_degree_power():
    graph = _graph()
    train = Interactions.from_graph(graph)
    degree = train.item_degree().double()
    warm = (degree > 0).nonzero().view(-1)
    for power in (0.0, 1.0):
        model = _small_model(graph, negatives={"easy_negative_power": power})
        model.fit(train)
        batches = model.train_batches(train, 16, "cpu", 0)
        counts = torch.bincount(warm[batches._easy_draw(200_000)], minlength=24).double()
        assert counts[degree == 0].sum() == 0  # never an item without interactions
        expected = degree[warm] ** power
        expected = expected / expected.sum()
        torch.testing.assert_close(counts[warm] / counts.sum(), expected, atol=0.01, rtol=0)


@pytest.mark.parametrize("objective", ["margin", "softmax"])
def test_loss_matches_the_formula_on_a_real_batch(objective):
    graph = _graph()
    train = Interactions.from_graph(graph)
    model = _small_model(graph, cold_dropout=0.0,
                         objective={"kind": objective, "temperature": 0.2},
                         negatives={"curriculum": False})
    model.fit(train)
    batch = next(iter(model.train_batches(train, 16, "cpu", 0)))
    assert batch.hard_negatives.size(1) == 3
    z = model.embed_subgraph(batch.subgraph)[batch.subgraph.target_index].detach()
    size, num_easy = len(batch), batch.easy_negatives.numel()
    expected = []
    for row in range(size):  # one pair at a time, straight from the docstring's formulas
        q, p = z[row], z[size + row]
        negatives = [(int(batch.easy_negatives[k]), z[2 * size + k]) for k in range(num_easy)]
        negatives += [(int(batch.hard_negatives[row, k]),
                       z[2 * size + num_easy + row * 3 + k]) for k in range(3)]
        positive = int(batch.positive[row])
        if objective == "margin":
            # hard negatives equal to the positive are ignored; easy ones are not
            terms = [max(0.0, float(q @ n - q @ p) + model.objective.margin)
                     for k, (item, n) in enumerate(negatives)
                     if not (k >= num_easy and item == positive)]
            expected.append(sum(terms))
        else:
            kept = [float(q @ n) for item, n in negatives if item != positive]
            logits = torch.tensor([float(q @ p)] + kept) / 0.2
            expected.append(float(-torch.log_softmax(logits, 0)[0]))
    with torch.no_grad():
        loss = model.loss(batch)
    assert loss.item() == pytest.approx(sum(expected) / size, rel=1e-5)


def test_bad_objective_and_temperature():
    with pytest.raises(ValueError, match=r"ObjectiveSettings.kind \(the objective\) must be "
                                         r"'margin' or 'softmax' \(got 'bpr'\)"):
        ObjectiveSettings(kind="bpr")
    with pytest.raises(ValueError, match=r"ObjectiveSettings.temperature must be a finite "
                                         r"number > 0 \(got 0.0\)"):
        ObjectiveSettings(kind="softmax", temperature=0.0)
    with pytest.raises(ValueError, match=r"objective must be ObjectiveSettings\(\.\.\.\) "
                                         r"\(got 'softmax'\)"):
        _small_model(_graph(), objective="softmax")
