"""Per-user AUC on hand cases, against scikit-learn, and through the Evaluator."""
from __future__ import annotations

import math

import pytest
import torch

from graphrec.eval.evaluator import Evaluator
from graphrec.eval.metrics import auc
from graphrec.graph.interactions import Interactions


def test_auc_hand_case_with_ties_and_candidates():
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 2.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    positive = torch.tensor([[True, False, True, False], [False, True, False, False],
                             [False, False, False, False]])
    value = auc(scores, positive)
    # row 0: positive 4 beats all 2 negatives, positive 2 beats 1 of 2: 3/4
    # row 1: positive 2.0 beats 1.0 and 0.0, ties 2.0: (2 + 0.5) / 3
    assert value[0].item() == pytest.approx(0.75)
    assert value[1].item() == pytest.approx(2.5 / 3)
    assert math.isnan(value[2].item())
    # leaving item 3 out of row 0's candidates: positive 2 now loses to 3 only: 2/2 + 0/1
    candidate = torch.tensor([[True, True, True, False]] * 3)
    assert auc(scores, positive, candidate)[0].item() == pytest.approx(0.5)


def test_auc_matches_scipy_mann_whitney():
    stats = pytest.importorskip("scipy.stats")
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (6, 30), generator=gen).double()  # many ties
    positive = torch.rand(6, 30, generator=gen) < 0.3
    value = auc(scores, positive)
    for row in range(6):
        pos, neg = scores[row][positive[row]].numpy(), scores[row][~positive[row]].numpy()
        # U of the positives over the negatives, ties counted half, / (|P| |N|) is the AUC
        u = stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
        assert value[row].item() == pytest.approx(u / (len(pos) * len(neg)))


class FixedScores:
    def __init__(self, scores):
        self.scores = scores

    def scorer(self):
        return lambda users: self.scores[users]


def test_evaluator_auc_with_and_without_history_masked():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    train = Interactions(torch.tensor([[0], [0]]), 1, 5)    # item 0 trained
    test = Interactions(torch.tensor([[0], [2]]), 1, 5)     # item 2 held out
    model = FixedScores(scores)
    kept = Evaluator(ks=(1,), metrics=("precision", "auc"), mask_history=False)
    # item 2 beats items 3, 4 but not 0, 1: 2/4; precision@1 is 0 (item 0 on top)
    assert kept.evaluate(model, test, exclude=train).metrics == pytest.approx(
        {"precision@1": 0.0, "auc": 0.5})
    masked = Evaluator(ks=(1,), metrics=("precision", "auc"))
    assert masked.evaluate(model, test, exclude=train).metrics == pytest.approx(
        {"precision@1": 0.0, "auc": 2 / 3})
    with pytest.raises(ValueError, match="unknown metrics"):
        Evaluator(metrics=("precision", "roc"))
