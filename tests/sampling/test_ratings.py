import pytest
import torch

from graphrec.graph.interactions import Interactions
from graphrec.sampling.ratings import RatingBatches


def _train():
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 3, 3], [0, 1, 1, 2, 4, 0, 4]])
    return Interactions(edge_index, 4, 5, edge_weight=torch.arange(1.0, 8.0))


def test_every_rating_once_per_epoch_shuffled_and_seeded():
    train = _train()
    batches = RatingBatches(train, batch_size=3, seed=0)
    assert len(batches) == 3
    epochs = []
    for _ in range(2):
        parts = list(batches)
        assert [len(b) for b in parts] == [3, 3, 1]
        users = torch.cat([b.users for b in parts])
        items = torch.cat([b.items for b in parts])
        ratings = torch.cat([b.ratings for b in parts])
        triples = sorted(zip(users.tolist(), items.tolist(), ratings.tolist(), strict=True))
        assert triples == sorted(zip(train.users.tolist(), train.indices.tolist(),
                                     train.edge_weight.tolist(), strict=True))
        epochs.append(users * 5 + items)
    assert not torch.equal(epochs[0], epochs[1])  # a fresh shuffle per epoch
    again = torch.cat([b.users * 5 + b.items for b in RatingBatches(train, 3, seed=0)])
    assert torch.equal(again, epochs[0])


def test_errors():
    with pytest.raises(ValueError, match="edge_weight is None"):
        RatingBatches(Interactions(torch.tensor([[0], [1]]), 2, 2))
    bad = Interactions(torch.tensor([[0], [1]]), 2, 2, edge_weight=torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="finite"):
        RatingBatches(bad)
    with pytest.raises(ValueError, match="batch_size"):
        RatingBatches(_train(), batch_size=0)
