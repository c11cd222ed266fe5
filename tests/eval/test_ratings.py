import math

import pytest
import torch

from graphrec.eval.ratings import RatingEvaluator
from graphrec.graph.interactions import Interactions


class _Table:
    """predict() reads a fixed [users, items] table."""

    def __init__(self, table):
        self.table = table
        self.calls = 0

    def predict(self, users, items):
        self.calls += 1
        return self.table[users, items]


def test_rmse_and_mae_by_hand():
    target = Interactions(torch.tensor([[0, 0, 1, 2], [0, 1, 1, 0]]), 3, 2,
                          edge_weight=torch.tensor([4.0, 2.0, 5.0, 1.0]))
    model = _Table(torch.tensor([[3.0, 2.5], [0.0, 5.0], [3.0, 0.0]]))
    errors = [1.0, -0.5, 0.0, -2.0]
    result = RatingEvaluator(batch_size=3).evaluate(model, target)
    assert model.calls == 2  # 4 ratings in batches of 3
    rmse = math.sqrt(sum(e * e for e in errors) / 4)
    mae = sum(abs(e) for e in errors) / 4
    assert result["rmse"] == pytest.approx(rmse) and result["mae"] == pytest.approx(mae)
    assert result["neg_rmse"] == pytest.approx(-rmse) and result["neg_mae"] == pytest.approx(-mae)
    assert result.num_users == 3 and result.num_skipped_users == 0
    only = RatingEvaluator().evaluate(model, target, users=torch.tensor([0, 1]),
                                      train=Interactions(torch.tensor([[0], [1]]), 3, 2))
    assert only["rmse"] == pytest.approx(math.sqrt((1 + 0.25 + 0) / 3))
    assert only.num_users == 2 and only.num_users_without_train == 1


def test_no_ratings_or_no_predict_is_an_error():
    model = _Table(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="edge_weight is None"):
        RatingEvaluator().evaluate(model, Interactions(torch.tensor([[0], [1]]), 2, 2))
    target = Interactions(torch.tensor([[0], [1]]), 2, 2, edge_weight=torch.tensor([3.0]))
    with pytest.raises(ValueError, match="no predict"):
        RatingEvaluator().evaluate(object(), target)
    empty = RatingEvaluator().evaluate(model, target, users=torch.tensor([1]))
    assert math.isnan(empty["rmse"]) and empty.num_users == 0
