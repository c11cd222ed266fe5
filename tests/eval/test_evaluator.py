import pytest
import torch

from graphrec.eval import Evaluator
from graphrec.graph.interactions import Interactions


class FixedScores:
    """A model whose scores are a given matrix."""

    def __init__(self, scores):
        self.scores = scores

    def scorer(self):
        return lambda users: self.scores[users]


def test_masking_skipping_and_cold_users():
    # 3 users x 5 items; item order by score is 0 > 1 > 2 > 3 > 4 for everyone
    scores = torch.tensor([[5.0, 4, 3, 2, 1]]).repeat(3, 1)
    train = Interactions(torch.tensor([[0, 0], [0, 1]]), 3, 5)  # user 0 trained on 0, 1
    test = Interactions(torch.tensor([[0, 2], [2, 4]]), 3, 5)  # user 1 has no test item
    result = Evaluator(ks=(1, 2), batch_size=2).evaluate(FixedScores(scores), test,
                                                          exclude=train, train=train)
    assert result.num_users == 2 and result.num_skipped_users == 1
    assert result.num_users_without_train == 1  # user 2
    # user 0: items 0, 1 masked -> top-1 is item 2 (hit); user 2: item 4 ranks last (miss)
    assert result["recall@1"] == pytest.approx(0.5)
    assert result["hit@2"] == pytest.approx(0.5)
    unmasked = Evaluator(ks=(1,)).evaluate(FixedScores(scores), test)
    assert unmasked["recall@1"] == 0.0


def test_user_subset_and_per_user_values():
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    test = Interactions(torch.tensor([[0, 1], [0, 0]]), 2, 2)
    result = Evaluator(ks=(1,)).evaluate(FixedScores(scores), test, users=torch.tensor([1]),
                                         keep_per_user=True)
    assert result.num_users == 1 and result["recall@1"] == 0.0
    assert result.users.tolist() == [1] and result.per_user["recall@1"].tolist() == [0.0]


def test_no_evaluable_user_gives_nan_not_a_crash():
    test = Interactions(torch.zeros(2, 0, dtype=torch.long), 2, 2)
    result = Evaluator(ks=(1,)).evaluate(FixedScores(torch.zeros(2, 2)), test)
    assert result.num_users == 0 and result.num_skipped_users == 2
    assert result["recall@1"] != result["recall@1"]  # nan


def _random_split(num_users=50, num_items=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(num_users, num_items, generator=generator) < 0.3
    test_item = torch.randint(num_items, (num_users,), generator=generator)
    mask[torch.arange(num_users), test_item] = False
    train = Interactions(mask.nonzero().t(), num_users, num_items)
    test = Interactions(torch.stack([torch.arange(num_users), test_item]), num_users, num_items)
    scores = torch.randn(num_users, num_items, generator=generator)
    return train, test, scores, mask


def test_sampled_protocol_ranks_each_target_among_distinct_negatives():
    from graphrec.eval.evaluator import known_interactions, sampled_candidates
    from graphrec.sampling.negative import NegativeSampler

    train, test, scores, mask = _random_split()
    users = torch.arange(50)
    negatives = NegativeSampler(known_interactions(test, train)).sample_distinct(
        users, 10, generator=torch.Generator().manual_seed(0))
    out = sampled_candidates(scores, users, test, negatives)
    # 1 target + 10 distinct negatives, never a training item, scores kept as they are
    assert (torch.isfinite(out).sum(1) == 11).all()
    assert not torch.isfinite(out[mask]).any()
    finite = torch.isfinite(out)
    torch.testing.assert_close(out[finite], scores[finite])
    with pytest.raises(ValueError, match="negatives must be"):
        sampled_candidates(scores, users, test, negatives.view(-1))


def test_sampled_protocol_with_more_negatives_than_candidates_is_full_ranking():
    # every user has fewer than 100 non-interacted items: each is ranked among all of
    # them (the padding is skipped), which is exactly the full-ranking protocol
    train, test, scores, _ = _random_split()
    evaluator = Evaluator(ks=(1, 5), metrics=("hit", "ndcg"), sampled_negatives=100)
    result = evaluator.evaluate(FixedScores(scores), test, exclude=train).metrics
    for name in ("hit@1", "hit@5", "ndcg@5"):
        assert result[f"sampled_{name}"] == pytest.approx(result[name])
    few = Evaluator(ks=(5,), metrics=("hit",), sampled_negatives=4)
    assert few.evaluate(FixedScores(scores), test, exclude=train)["sampled_hit@5"] == 1.0
