"""Training losses shared by the models (each model's ``loss(batch)`` calls them; the layer
level, so models import them without reaching up to :mod:`graphrec.train`)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    r"""Bayesian Personalised Ranking (Rendle et al., UAI 2009):
    :math:`-\frac{1}{B}\sum \ln \sigma(s^+ - s^-)`. ``neg_scores`` may be ``[B]`` or
    ``[B, K]`` (then averaged over the ``K`` negatives as well)."""
    if neg_scores.dim() == pos_scores.dim() + 1:
        pos_scores = pos_scores.unsqueeze(-1)
    return -F.logsigmoid(pos_scores - neg_scores).mean()


def l2_penalty(*tensors: Tensor, batch_size: int) -> Tensor:
    r"""LightGCN's regulariser on the batch's ego embeddings:
    :math:`\frac{1}{2B}\sum_t \lVert t \rVert_2^2`."""
    return sum(t.pow(2).sum() for t in tensors) / (2.0 * batch_size)


def sgns_loss(center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
    r"""Skip-gram negative-sampling loss (Mikolov et al., NeurIPS 2013), mean over the batch:
    :math:`-\ln \sigma(\mathbf{h}_c^\top \mathbf{z}_o)
    - \sum_{k} \ln \sigma(-\mathbf{h}_c^\top \mathbf{z}_{n_k})`.

    Args:
        center: ``[B, d]`` centre embeddings :math:`\mathbf{h}_c`.
        context: ``[B, d]`` context (output) embeddings :math:`\mathbf{z}_o`.
        negatives: ``[B, K, d]`` output embeddings of the negatives.
    """
    positive = F.logsigmoid((center * context).sum(-1))
    # broadcast product, not einsum: CPU bmm over [B] tiny matrices is several times slower
    negative = F.logsigmoid(-(center.unsqueeze(1) * negatives).sum(-1)).sum(-1)
    return -(positive + negative).mean()


def warp_loss(pos_scores: Tensor, neg_scores: Tensor, weight: Tensor,
              margin: float = 1.0) -> Tensor:
    r"""WARP's rank-weighted hinge (Weston et al., IJCAI 2011), mean over the batch:
    :math:`\frac{1}{B}\sum_b L(\hat r_b)\,\max(0, m - s^+_b + s^-_b)`, with the rank
    weight :math:`L(\hat r_b)` (``weight``, treated as a constant; 0 for rows where no
    violating negative was found) from :func:`graphrec.sampling.warp.first_violation`."""
    hinge = (margin - pos_scores + neg_scores).clamp(min=0)
    return (weight.detach() * hinge).mean()


def logistic_loss(pos_scores: Tensor, neg_scores: Tensor, neg_weight: Tensor | None = None
                  ) -> Tensor:
    r"""Pointwise log loss with a positive (label 1) and a sampled negative (label 0) per row:
    :math:`-\frac{1}{B}\sum_b [\ln \sigma(s^+_b) + w_b \ln \sigma(-s^-_b)]`
    (``neg_weight`` :math:`w_b`, default 1, drops rows without a valid negative)."""
    negative = F.logsigmoid(-neg_scores)
    if neg_weight is not None:
        negative = negative * neg_weight
    return -(F.logsigmoid(pos_scores) + negative).mean()


__all__ = ["bpr_loss", "l2_penalty", "logistic_loss", "sgns_loss", "warp_loss"]
