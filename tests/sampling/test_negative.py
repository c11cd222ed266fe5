import pytest
import torch

from graphrec.graph.interactions import Interactions
from graphrec.sampling.batches import PairBatches
from graphrec.sampling.negative import NegativeSampler


def _random_interactions(num_users=60, num_items=40, density=0.4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(num_users, num_items, generator=generator) < density
    mask[0] = True
    mask[0, 7] = False  # user 0 has exactly one negative: item 7
    mask[1] = False  # user 1 has no positive at all
    return Interactions(mask.nonzero().t(), num_users, num_items), mask


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_sampler_never_returns_a_positive(distribution):
    inter, mask = _random_interactions()
    sampler = NegativeSampler(inter, distribution, max_rounds=3)
    users = torch.arange(60).repeat(200)
    items = sampler.sample(users, generator=torch.Generator().manual_seed(1))
    assert not mask[users, items].any()
    assert (items[users == 0] == 7).all()
    negatives = sampler.sample(users[:100], num_negatives=5)
    assert negatives.shape == (100, 5)
    assert not mask[users[:100].unsqueeze(1), negatives].any()


def test_uniform_sampler_is_uniform_over_non_positives():
    inter, mask = _random_interactions()
    sampler = NegativeSampler(inter)
    user = 5
    draws = sampler.sample(torch.full((40000,), user), generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=40).float()
    allowed = ~mask[user]
    assert (counts[~allowed] == 0).all()
    expected = 40000 / int(allowed.sum())
    chi2 = ((counts[allowed] - expected) ** 2 / expected).sum()
    # chi-square with (k - 1) dof: mean k - 1, far below 3x that for a uniform sampler
    assert chi2 < 3 * int(allowed.sum())


def test_popularity_sampler_prefers_popular_items():
    # item 0 has degree 9, items 1..9 degree 1 (users 1..9); user 0 samples from all
    edge_index = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9] * 2,
                               [0] * 9 + list(range(1, 10))])
    inter = Interactions(edge_index, 10, 12)
    sampler = NegativeSampler(inter, "popularity", power=1.0)
    draws = sampler.sample(torch.zeros(20000, dtype=torch.long),
                           generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=12).float()
    # weights (degree + 1): item 0 -> 10, items 1..9 -> 2, items 10, 11 -> 1; total 30
    assert abs(counts[0] / 20000 - 10 / 30) < 0.02
    assert abs(counts[10] / 20000 - 1 / 30) < 0.01


def test_user_with_every_item_is_an_error():
    inter = Interactions(torch.tensor([[0, 0], [0, 1]]), 1, 2)
    with pytest.raises(ValueError, match="every item"):
        NegativeSampler(inter).sample(torch.tensor([0]))


def test_pair_batches_cover_every_interaction_once_per_epoch():
    inter, mask = _random_interactions()
    batches = list(PairBatches(inter, batch_size=64, seed=0))
    users = torch.cat([b.users for b in batches])
    pos = torch.cat([b.pos_items for b in batches])
    neg = torch.cat([b.neg_items for b in batches])
    assert users.numel() == inter.num_interactions
    keys = torch.sort(users * 40 + pos).values
    assert torch.equal(keys, inter.keys)
    assert mask[users, pos].all() and not mask[users, neg].any()
