import math

import pytest
import torch
from torch_geometric.metrics import (
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from graphrec.eval.metrics import ranking_metrics


def test_hand_computed_case():
    # one user, 3 relevant items, hits at ranks 1 and 3 of the top 4
    hits = torch.tensor([[True, False, True, False]])
    values = ranking_metrics(hits, torch.tensor([3]), ks=(2, 4))
    assert values["recall@2"].item() == pytest.approx(1 / 3)
    assert values["recall@4"].item() == pytest.approx(2 / 3)
    assert values["precision@4"].item() == pytest.approx(2 / 4)
    dcg4 = 1 + 1 / math.log2(4)
    idcg4 = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(3, 4) = 3 ideal hits
    assert values["ndcg@4"].item() == pytest.approx(dcg4 / idcg4)
    assert values["ndcg@2"].item() == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert values["hit@2"].item() == 1.0
    assert values["mrr@4"].item() == 1.0
    assert values["map@4"].item() == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert values["map@2"].item() == pytest.approx(1 / 2)  # min(3, 2) = 2


def test_no_hit_gives_zero_and_first_hit_rank_gives_mrr():
    hits = torch.tensor([[False, False, False], [False, True, False]])
    values = ranking_metrics(hits, torch.tensor([1, 2]), ks=(3,))
    assert values["mrr@3"].tolist() == [0.0, 0.5]
    assert values["ndcg@3"][0].item() == 0.0
    assert values["hit@3"].tolist() == [0.0, 1.0]


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown metrics"):
        ranking_metrics(torch.zeros(1, 1, dtype=torch.bool), torch.tensor([1]), (1,), ("auc",))


def test_agrees_with_torch_geometric_metrics_on_random_rankings():
    generator = torch.Generator().manual_seed(0)
    num_users, num_items, k = 50, 30, 10
    scores = torch.rand(num_users, num_items, generator=generator)
    top = scores.topk(k, dim=1).indices
    relevant = torch.rand(num_users, num_items, generator=generator) < 0.15
    relevant[0] = False
    relevant[0, 3] = True
    edge_label_index = relevant.nonzero().t()
    hits = relevant.gather(1, top)
    ours = ranking_metrics(hits, relevant.sum(1), ks=(5, k))
    for kk in (5, k):
        for name, metric in (("recall", LinkPredRecall), ("precision", LinkPredPrecision),
                             ("ndcg", LinkPredNDCG), ("hit", LinkPredHitRatio),
                             ("mrr", LinkPredMRR), ("map", LinkPredMAP)):
            reference = metric(kk)
            reference.update(top, edge_label_index)
            assert ours[f"{name}@{kk}"].mean().item() == pytest.approx(
                reference.compute().item(), abs=1e-6), f"{name}@{kk}"
