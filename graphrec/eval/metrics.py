r"""Ranking metrics from a hit matrix.

All metrics take ``hits``, a ``[B, K]`` boolean matrix (``hits[b, r]``: the item ranked
``r + 1`` for user ``b`` is relevant), and ``num_relevant``, the ``[B]`` count of the
user's relevant items, and return per-user values at cut-off ``k``. Binary relevance:

- Recall@k = hits@k / |rel|; Precision@k = hits@k / k
- NDCG@k = DCG@k / IDCG@k, DCG = :math:`\sum_{r \le k} hit_r / \log_2(r + 1)`,
  IDCG over :math:`\min(|rel|, k)` ideal hits
- HitRate@k = 1 if any hit in the top k
- MRR@k = 1 / rank of the first hit (0 if none in the top k)
- MAP@k = :math:`\sum_{r \le k} P@r \cdot hit_r / \min(|rel|, k)`

These definitions equal ``torch_geometric.metrics.LinkPred*`` (tested), but compute all
cut-offs from one hit matrix instead of one membership search per metric and cut-off.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

METRICS = ("recall", "precision", "ndcg", "hit", "mrr", "map")


def _discount(k: int, device: torch.device) -> Tensor:
    return 1.0 / torch.log2(torch.arange(2, k + 2, device=device, dtype=torch.float64))


def recall(hits: Tensor, num_relevant: Tensor, k: int) -> Tensor:
    return hits[:, :k].sum(1).double() / num_relevant.clamp(min=1)


def precision(hits: Tensor, num_relevant: Tensor, k: int) -> Tensor:
    return hits[:, :k].sum(1).double() / k


def ndcg(hits: Tensor, num_relevant: Tensor, k: int) -> Tensor:
    discount = _discount(k, hits.device)
    dcg = (hits[:, :k].double() * discount[: hits[:, :k].size(1)]).sum(1)
    ideal = torch.cat([discount.new_zeros(1), discount.cumsum(0)])
    return dcg / ideal[num_relevant.clamp(min=1, max=k)]


def hit(hits: Tensor, num_relevant: Tensor, k: int) -> Tensor:
    return hits[:, :k].any(1).double()


def mrr(hits: Tensor, num_relevant: Tensor, k: int) -> Tensor:
    top = hits[:, :k].double()
    ranks = torch.arange(1, top.size(1) + 1, device=hits.device, dtype=torch.float64)
    return (top / ranks).max(1).values if top.size(1) else top.sum(1)


def average_precision(hits: Tensor, num_relevant: Tensor, k: int) -> Tensor:
    top = hits[:, :k].double()
    ranks = torch.arange(1, top.size(1) + 1, device=hits.device, dtype=torch.float64)
    precision_at = top.cumsum(1) / ranks
    return (precision_at * top).sum(1) / num_relevant.clamp(min=1, max=k)


METRIC_FUNCTIONS: dict[str, Callable[[Tensor, Tensor, int], Tensor]] = {
    "recall": recall,
    "precision": precision,
    "ndcg": ndcg,
    "hit": hit,
    "mrr": mrr,
    "map": average_precision,
}


def auc(scores: Tensor, positive: Tensor, candidate: Tensor | None = None) -> Tensor:
    r"""Per-user AUC: the share of (positive, negative) pairs the scores order correctly,

    .. math::
        \mathrm{AUC}_u = \frac{1}{|P_u|\,|N_u|} \sum_{p \in P_u} \sum_{n \in N_u}
        \big([s_p > s_n] + \tfrac12 [s_p = s_n]\big)

    with :math:`P_u` the user's positives among the candidates and :math:`N_u` the other
    candidates (ties count half: Mann-Whitney). LightFM's ``auc_score`` without
    ``train_interactions`` is this with every item a candidate.

    Args:
        scores: ``[B, N]`` scores.
        positive: ``[B, N]`` bool, the relevant items.
        candidate: ``[B, N]`` bool, the items ranked (default all); positives outside it
            are ignored.

    Returns:
        ``[B]`` float64; NaN for a row without a positive or without a negative.
    """
    if candidate is None:
        candidate = torch.ones_like(positive)
    positive = positive & candidate
    negative = candidate & ~positive
    # each row's negative scores sorted, the rest pushed to +inf past every finite score
    inf = torch.finfo(scores.dtype).max
    negatives_sorted = torch.sort(torch.where(negative, scores, inf), dim=1).values
    below = torch.searchsorted(negatives_sorted, scores.contiguous(), side="left")
    at_or_below = torch.searchsorted(negatives_sorted, scores.contiguous(), side="right")
    num_neg = negative.sum(1)
    below = torch.minimum(below, num_neg.unsqueeze(1))
    at_or_below = torch.minimum(at_or_below, num_neg.unsqueeze(1))
    correct = (below.double() + 0.5 * (at_or_below - below).double()) * positive
    pairs = positive.sum(1).double() * num_neg.double()
    return torch.where(pairs > 0, correct.sum(1) / pairs.clamp(min=1), torch.nan)


def ranking_metrics(
    hits: Tensor, num_relevant: Tensor, ks: tuple[int, ...], metrics: tuple[str, ...] = METRICS
) -> dict[str, Tensor]:
    """Per-user values of every ``metric@k``, keyed like ``"ndcg@20"``."""
    unknown = set(metrics) - set(METRIC_FUNCTIONS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {METRICS}")
    return {f"{name}@{k}": METRIC_FUNCTIONS[name](hits, num_relevant, k)
            for name in metrics for k in ks}
