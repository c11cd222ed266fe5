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


__all__ = ["bpr_loss", "l2_penalty", "sgns_loss"]
