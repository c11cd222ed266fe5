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
