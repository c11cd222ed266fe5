r"""WARP sampling, vectorised over a batch: every row draws its ``max_sampled`` candidate
negatives at once, and the first that violates the margin is kept.

WARP (`"WSABIE: Scaling Up To Large Vocabulary Image Annotation"
<https://www.ijcai.org/Proceedings/11/Papers/460.pdf>`_, Weston, Bengio and Usunier, IJCAI
2011) samples negatives for a positive :math:`(u, i)` one at a time until one, :math:`j`,
violates the margin, :math:`1 + s_{uj} - s_{ui} > 0`; if that took :math:`T` trials among
:math:`N` items, the positive's rank is estimated as
:math:`\hat r = \lfloor (N - 1) / T \rfloor` and the pair's hinge loss is weighted by
:math:`L(\hat r) = \sum_{k=1}^{\hat r} 1/k`. LightFM runs that loop per example; here a
batch draws all ``max_sampled`` candidates of every row together (:class:`WarpBatches`),
the model scores them in one call, and :func:`first_violation` finds each row's first
violator: the same estimate (a row's trials stop at its first violator) without a Python
loop, at the cost of scoring candidates that a sequential loop would not have drawn.

k-OS WARP (`"Learning to Rank Recommendations with the k-Order Statistic Loss"
<https://doi.org/10.1145/2507157.2507210>`_, Weston, Yee and Weiss, RecSys 2013) first
draws ``n`` of the user's positives and uses the ``k``-th best scored as the positive
(:class:`WarpBatch` ``positive_pool``).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions


def harmonic_weight(rank: Tensor) -> Tensor:
    r"""WARP's rank weight :math:`L(r) = \sum_{k=1}^{r} 1/k` (0 for :math:`r = 0`), exact
    (a cumulative sum up to the largest rank; LightFM approximates it by :math:`\ln r`)."""
    rank = rank.long()
    top = int(rank.max()) if rank.numel() else 0
    table = torch.zeros(top + 1, dtype=torch.float64, device=rank.device)
    if top:
        table[1:] = torch.cumsum(1.0 / torch.arange(1, top + 1, dtype=torch.float64,
                                                    device=rank.device), 0)
    return table[rank.clamp(min=0)].float()


@dataclass
class Violation:
    """Per row of a batch: the first violating candidate and WARP's rank estimate.

    Attributes:
        found: ``[B]`` bool, a candidate violated the margin.
        column: ``[B]`` the violator's column among the candidates (0 where none).
        trials: ``[B]`` candidates drawn up to and including it (0 where none).
        rank: ``[B]`` :math:`\\lfloor (N - 1) / T \\rfloor` (0 where none).
        weight: ``[B]`` :func:`harmonic_weight` of ``rank`` (0 where none).
    """

    found: Tensor
    column: Tensor
    trials: Tensor
    rank: Tensor
    weight: Tensor


def first_violation(pos_scores: Tensor, candidate_scores: Tensor, candidate_valid: Tensor,
                    num_items: int, margin: float = 1.0) -> Violation:
    r"""Each row's first candidate :math:`j` (in draw order) with
    :math:`\text{margin} + s_j - s^+ > 0` among the valid ones (not a positive of the user),
    and its WARP rank estimate and weight.

    Args:
        pos_scores: ``[B]`` positive scores :math:`s^+`.
        candidate_scores: ``[B, T]`` scores of the candidates, in draw order.
        candidate_valid: ``[B, T]`` bool, the candidate may serve as a negative.
        num_items: :math:`N`, the number of items candidates are drawn from.
        margin: the hinge margin (1 in WARP and LightFM).
    """
    if candidate_scores.dim() != 2 or candidate_scores.shape != candidate_valid.shape:
        raise ValueError("candidate_scores and candidate_valid must both be [B, T] (got "
                         f"{tuple(candidate_scores.shape)}, {tuple(candidate_valid.shape)})")
    violates = (margin + candidate_scores - pos_scores.unsqueeze(1) > 0) & candidate_valid
    found = violates.any(1)
    # argmax of a 0/1 row is its first 1 (ties resolve to the lowest index)
    column = torch.where(found, violates.to(torch.uint8).argmax(1), 0)
    trials = torch.where(found, column + 1, 0)
    rank = torch.where(found, torch.div(num_items - 1, trials.clamp(min=1),
                                        rounding_mode="floor"), 0)
    return Violation(found, column, trials, rank, harmonic_weight(rank))


@dataclass
class WarpBatch:
    """Training rows for WARP: a positive ``(user, item)`` per row, its candidate
    negatives in draw order, and (k-OS) a pool of the user's positives.

    Attributes:
        users: ``[B]``.
        pos_items: ``[B]`` the row's training positive.
        candidates: ``[B, T]`` uniformly drawn items (with replacement).
        candidate_valid: ``[B, T]`` bool, the candidate is not a training item of the user.
        positive_pool: ``[B, n]`` items drawn uniformly from the user's training items
            (k-OS WARP), or ``None``.
    """

    users: Tensor
    pos_items: Tensor
    candidates: Tensor
    candidate_valid: Tensor
    positive_pool: Tensor | None = None

    def to(self, device: torch.device | str) -> WarpBatch:
        return WarpBatch(*(None if getattr(self, f.name) is None
                           else getattr(self, f.name).to(device) for f in fields(self)))

    def __len__(self) -> int:
        return int(self.users.numel())


class WarpBatches:
    """One epoch = every training interaction once, shuffled, each with ``max_sampled``
    fresh candidate negatives (and ``num_positives`` pooled positives for k-OS); all of an
    epoch's draws are made in one vectorised call per kind.

    Args:
        train: training interactions.
        batch_size: rows per batch.
        max_sampled: candidates per row :math:`T` (LightFM's ``max_sampled``, 10).
        num_positives: positives pooled per row for k-OS WARP (LightFM's ``n``), or 0.
        device: where batches are built.
        seed: seeds the shuffle and the draws.
    """

    def __init__(self, train: Interactions, batch_size: int = 1024, max_sampled: int = 10,
                 num_positives: int = 0, device: torch.device | str = "cpu",
                 seed: int = 0) -> None:
        for name, value, low in (("batch_size", batch_size, 1), ("max_sampled", max_sampled, 1),
                                 ("num_positives", num_positives, 0)):
            if int(value) < low:
                raise ValueError(f"{name} must be at least {low} (got {value})")
        if train.num_interactions == 0:
            raise ValueError("WARP needs at least one training interaction")
        self.device = torch.device(device)
        self.train = train.to(self.device)
        self.batch_size, self.max_sampled = int(batch_size), int(max_sampled)
        self.num_positives = int(num_positives)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        return -(-self.train.num_interactions // self.batch_size)

    def __iter__(self) -> Iterator[WarpBatch]:
        train, gen = self.train, self.generator
        order = torch.randperm(train.num_interactions, generator=gen, device=self.device)
        users, pos_items = train.users[order], train.indices[order]
        candidates = torch.randint(train.num_items, (order.numel(), self.max_sampled),
                                   generator=gen, device=self.device)
        valid = ~train.contains(users.unsqueeze(1).expand_as(candidates), candidates)
        pool = None
        if self.num_positives:
            start = train.indptr[users]
            degree = train.indptr[users + 1] - start
            draw = torch.rand(order.numel(), self.num_positives, generator=gen,
                              device=self.device)
            offset = (draw * degree.unsqueeze(1)).long().clamp(max=(degree - 1).unsqueeze(1))
            pool = train.indices[start.unsqueeze(1) + offset]
        for begin in range(0, order.numel(), self.batch_size):
            end = begin + self.batch_size
            yield WarpBatch(users[begin:end], pos_items[begin:end], candidates[begin:end],
                            valid[begin:end], None if pool is None else pool[begin:end])


__all__ = ["Violation", "WarpBatch", "WarpBatches", "first_violation", "harmonic_weight"]
