"""The item-pair sampler on its own (no model): pairs, folds, negatives, the curriculum."""
import pytest
import torch

from graphrec.graph.interactions import Interactions
from graphrec.sampling.item_pairs import ItemPairBatch, ItemPairBatches

WALKS = {"num_neighbors": 3, "num_walks": 16, "walk_length": 3, "restart_prob": 0.5,
         "seed": 0}


def _interactions(with_time: bool = True):
    """8 users with 4 items each out of 10 (items 8, 9 have no interactions); times
    increase along the given order."""
    users = torch.arange(8).repeat_interleave(4)
    items = (users.repeat_interleave(1) + torch.arange(4).repeat(8) * 2) % 8
    time = torch.arange(32.0) if with_time else None
    return Interactions(torch.stack([users, items]), 8, 10, edge_time=time), time


class HardPools:
    """Hard negatives ``q + 1 + j`` (mod 10), recording each call."""

    def __init__(self):
        self.calls = []

    def __call__(self, queries, count, generator):
        self.calls.append((queries.clone(), count, generator))
        return (queries.unsqueeze(1) + 1 + torch.arange(count)) % 10


def test_batches_follow_the_folds_the_pairs_and_the_curriculum():
    train, time = _interactions()
    hard = HardPools()
    batches = ItemPairBatches(train, 5, num_layers=2, walk_settings=WALKS, hard_negatives=hard,
                              times=train.edge_time, num_folds=2, num_easy=20, max_hard=2)
    assert len(batches) == 4  # ceil(32 / (2 * 5))
    for epoch in range(1, 5):
        fold = (epoch - 1) % 2
        seen = 0
        for batch in batches:
            assert isinstance(batch, ItemPairBatch)
            k = min(epoch - 1, 2)
            assert batch.hard_negatives.shape == (len(batch), k)
            assert torch.equal(batch.hard_negatives,
                               (batch.query.unsqueeze(1) + 1 + torch.arange(k)) % 10)
            assert hard.calls[-1][1] == k and hard.calls[-1][2] is batches.generator
            # easy negatives: items with interactions only, at most that many
            assert batch.easy_negatives.numel() == 8
            assert bool((batch.easy_negatives < 8).all())
            # query and positive are one user's consecutive items, the positive's edge in
            # the epoch's fold
            in_fold = batches.fold == fold
            for q, p in zip(batch.query.tolist(), batch.positive.tolist(), strict=True):
                assert bool((in_fold & (train.indices == p) & (batches.partner == q)).any())
            sub = batch.subgraph
            expected = torch.cat([batch.query, batch.positive, batch.easy_negatives,
                                  batch.hard_negatives.reshape(-1)])
            assert torch.equal(sub.nodes[:sub.num_targets][sub.target_index], expected)
            assert len(sub.hops) == 2
            seen += len(batch)
        assert seen == int((batches.fold == fold).sum())  # every user has a partner
        # the fold's edges are not in the graph its neighbourhoods are walked on
        fold_edges = train.edge_index[:, batches.fold == fold]
        walk_graph = batches.sampler(fold).neighborhoods.graph
        assert not bool(walk_graph.has_edge(fold_edges[0], fold_edges[1] + 8).any())
    assert batches.epoch == 4


def test_consecutive_partners_and_seeded_repeats():
    train, _ = _interactions()
    # user 0 engaged items 0, 2, 4, 6 in this order: 0's partner is 2, 2's is 0, 4's is 2
    batches = ItemPairBatches(train, 4, num_layers=1, walk_settings=WALKS,
                              hard_negatives=HardPools(), times=train.edge_time, num_folds=1,
                              num_easy=2, max_hard=0)
    user0 = train.users == 0
    assert dict(zip(train.indices[user0].tolist(), batches.partner[user0].tolist(),
                    strict=True)) == {0: 2, 2: 0, 4: 2, 6: 4}

    def run(seed):
        made = ItemPairBatches(train, 4, num_layers=1, walk_settings=WALKS,
                               hard_negatives=HardPools(), num_folds=3, num_easy=2,
                               max_hard=1, curriculum=False, seed=seed, fold_seed=5)
        return [(b.query, b.positive, b.easy_negatives, b.hard_negatives) for b in made]

    first, again, other = run(0), run(0), run(1)
    assert all(torch.equal(a, b) for x, y in zip(first, again, strict=True)
               for a, b in zip(x, y, strict=True))
    assert not all(torch.equal(x[0], y[0]) for x, y in zip(first, other, strict=False))
    assert all(x[3].shape[1] == 1 for x in first)  # no curriculum: max_hard at once


@pytest.mark.parametrize("kwargs, message", [
    ({"num_folds": 0}, "num_folds must be an integer >= 1"),
    ({"max_hard": -1}, "max_hard must be an integer >= 0"),
    ({"query_weight_exponent": -1.0}, "query_weight_exponent must be a finite number >= 0"),
    ({"times": torch.zeros(3)}, r"times must hold one time per interaction \(32; got 3\)"),
])
def test_bad_settings_are_named(kwargs, message):
    train, _ = _interactions()
    with pytest.raises(ValueError, match=message):
        ItemPairBatches(train, 4, num_layers=1, walk_settings=WALKS,
                        hard_negatives=HardPools(), **kwargs)
