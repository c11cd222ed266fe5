"""Masked top-k over score matrices, shared by ``recommend`` and the evaluator.

It sits at the graph level (it needs only :class:`~graphrec.graph.interactions.Interactions`)
so that models and the evaluator both import it from below."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions


def mask_interactions(
    scores: Tensor, users: Tensor, exclude: Interactions | Sequence[Interactions] | None
) -> Tensor:
    """Sets ``scores[b, i] = -inf`` where ``(users[b], i)`` is in ``exclude`` (in place)."""
    if exclude is None:
        return scores
    for interactions in [exclude] if isinstance(exclude, Interactions) else exclude:
        row, item = interactions.to(scores.device).rows(users)
        scores[row, item] = float("-inf")
    return scores


def topk_items(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-``k`` item indices and scores per row, best first: ``([B, k], [B, k])``.

    An item scored ``-inf`` (masked by :func:`mask_interactions`: excluded) is never
    returned. Where a row has fewer than ``k`` other items (``k`` above the number of
    items, or most items excluded), the row is padded at the end with item index ``-1``
    and score ``-inf``.

    Raises:
        ValueError: ``k`` is not a positive integer.
    """
    k = check_number("k", k, integer=True, low=1)
    values, indices = torch.topk(scores, min(k, scores.size(1)), dim=1)
    excluded = values == float("-inf")
    indices = indices.masked_fill(excluded, -1)
    if values.size(1) < k:
        pad = (scores.size(0), k - values.size(1))
        indices = torch.cat([indices, indices.new_full(pad, -1)], dim=1)
        values = torch.cat([values, values.new_full(pad, float("-inf"))], dim=1)
    return indices, values
