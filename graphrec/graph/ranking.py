"""Masked top-k over score matrices, shared by ``recommend`` and the evaluator.

It sits at the graph level (it needs only :class:`~graphrec.graph.interactions.Interactions`)
so that models and the evaluator both import it from below."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

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
    """Top-``k`` item indices and scores per row (``k`` clipped to the number of items)."""
    values, indices = torch.topk(scores, min(k, scores.size(1)), dim=1)
    return indices, values
