"""WARP: first violator, rank estimate floor((N-1)/T), harmonic weight; the batches."""
from __future__ import annotations

import pytest
import torch

from graphrec.graph.interactions import Interactions
from graphrec.nn.losses import warp_loss
from graphrec.sampling.warp import WarpBatches, first_violation, harmonic_weight


def test_harmonic_weight_by_hand():
    rank = torch.tensor([0, 1, 2, 3, 10])
    expected = torch.tensor([0.0, 1.0, 1.5, 1.5 + 1 / 3, sum(1 / k for k in range(1, 11))])
    assert torch.allclose(harmonic_weight(rank), expected)


def test_first_violation_rank_and_weight_by_hand():
    # N = 21 items, margin 1; positive scores 2.0 in every row
    pos = torch.tensor([2.0, 2.0, 2.0, 2.0])
    candidates = torch.tensor([
        [0.5, 1.5, 3.0, 0.0],   # 1 + 1.5 - 2 > 0 at the 2nd draw: T = 2, r = floor(20/2) = 10
        [1.2, 0.0, 0.0, 0.0],   # 1st draw violates: T = 1, r = 20
        [0.9, 1.0, 0.5, 1.0],   # 1 + 1.0 - 2 = 0 is no violation (strict): none
        [5.0, 5.0, 5.0, 1.01],  # the first three are positives of the user: T = 4, r = 5
    ])
    valid = torch.tensor([[True] * 4, [True] * 4, [True] * 4, [False, False, False, True]])
    found = first_violation(pos, candidates, valid, num_items=21, margin=1.0)
    assert found.found.tolist() == [True, True, False, True]
    assert found.column.tolist() == [1, 0, 0, 3]
    assert found.trials.tolist() == [2, 1, 0, 4]
    assert found.rank.tolist() == [10, 20, 0, 5]
    h = lambda r: sum(1 / k for k in range(1, r + 1))  # noqa: E731
    assert torch.allclose(found.weight, torch.tensor([h(10), h(20), 0.0, h(5)]))
    # the loss: weight * hinge, mean over the batch (row 3 contributes nothing)
    neg = candidates[torch.arange(4), found.column]
    loss = warp_loss(pos, neg, found.weight)
    expected = (h(10) * 0.5 + h(20) * 0.2 + h(5) * (1 + 1.01 - 2)) / 4
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_first_violation_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        first_violation(torch.zeros(2), torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool), 5)


def test_warp_batches_cover_the_epoch_and_flag_positives():
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 2], [0, 1, 2, 0, 3, 4]])
    train = Interactions(edge_index, 3, 6)
    batches = WarpBatches(train, batch_size=4, max_sampled=50, num_positives=7, seed=1)
    seen = []
    for batch in batches:
        assert batch.candidates.shape == (len(batch), 50)
        assert torch.equal(batch.candidate_valid,
                           ~train.contains(batch.users.unsqueeze(1), batch.candidates))
        # the pool holds only the user's own training items
        assert bool(train.contains(batch.users.unsqueeze(1), batch.positive_pool).all())
        seen += list(zip(batch.users.tolist(), batch.pos_items.tolist(), strict=True))
    assert sorted(seen) == sorted(zip(*edge_index.tolist(), strict=True))
    with pytest.raises(ValueError, match="max_sampled"):
        WarpBatches(train, max_sampled=0)
