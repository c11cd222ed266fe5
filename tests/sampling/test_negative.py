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


# ------------------------------------------------------- distinct negatives (NCF's 1 + 100)
def test_sample_distinct_rows_are_distinct_non_positives_and_padded_when_short():
    inter, mask = _random_interactions(num_users=60, num_items=40, density=0.5)
    sampler = NegativeSampler(inter)
    users = torch.arange(60)
    k = 12
    items = sampler.sample_distinct(users, k, generator=torch.Generator().manual_seed(3))
    assert items.shape == (60, k)
    available = (~mask).sum(1)
    for user in range(60):  # checking only: the sampler itself has no per-user loop
        row = items[user]
        real = row[row < 40]
        assert real.numel() == min(k, int(available[user]))
        assert real.unique().numel() == real.numel()  # distinct
        assert not mask[user, real].any()  # never a positive
        assert (row[real.numel():] == 40).all()  # padding is num_items, at the end
        if available[user] <= k:  # too few: every candidate is taken
            assert set(real.tolist()) == set((~mask[user]).nonzero().view(-1).tolist())
    assert items[0, 0] == 7 and (items[0, 1:] == 40).all()  # user 0: one negative only
    assert (items[1] < 40).all()  # user 1 has no positive: 12 of all 40 items


def test_sample_distinct_is_seeded():
    inter, _ = _random_interactions()
    sampler = NegativeSampler(inter)
    users = torch.arange(60)

    def draw(seed):
        return sampler.sample_distinct(users, 5, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(4), draw(4))
    assert not torch.equal(draw(4), draw(5))


def test_sample_distinct_draws_every_subset_equally_often():
    # one user with 6 non-positives, 3 drawn: each of the C(6, 3) = 20 subsets has
    # probability 1/20 and each item 1/2; chi-square over 20 cells (19 dof: the 0.9999
    # quantile is 49.5) and the marginals within 3 standard errors
    mask = torch.ones(1, 10, dtype=torch.bool)
    candidates = torch.tensor([0, 2, 3, 5, 8, 9])
    mask[0, candidates] = False
    sampler = NegativeSampler(Interactions(mask.nonzero().t(), 1, 10))
    draws = 20000
    items = sampler.sample_distinct(torch.zeros(draws, dtype=torch.long), 3,
                                    generator=torch.Generator().manual_seed(0))
    assert torch.isin(items, candidates).all()
    code = (torch.ones_like(items) << items).sum(1)  # the subset as a bit set
    assert (torch.stack([(items == c).sum(1) for c in candidates]) <= 1).all()
    counts = torch.bincount(code, minlength=1 << 10).float()
    observed = counts[counts > 0]
    assert observed.numel() == 20
    expected = draws / 20
    assert ((observed - expected) ** 2 / expected).sum() < 49.5
    share = torch.bincount(items.view(-1), minlength=10)[candidates].float() / draws
    assert (share - 0.5).abs().max() < 3 * (0.25 / draws) ** 0.5


def test_sample_distinct_checks_its_count():
    inter, _ = _random_interactions()
    with pytest.raises(ValueError, match="num_negatives must be positive"):
        NegativeSampler(inter).sample_distinct(torch.arange(3), 0)
