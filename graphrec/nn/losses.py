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


def log_loss(pos_logits: Tensor, neg_logits: Tensor) -> Tensor:
    r"""Log loss (binary cross-entropy) of NCF (He et al., WWW 2017, Eq. 7) over positives
    (label 1) and their sampled negatives (label 0), averaged over all instances:
    :math:`-\frac{1}{B(1+K)}\big(\sum \ln \sigma(s^+) + \sum \ln \sigma(-s^-)\big)`.

    ``pos_logits`` is ``[B]``; ``neg_logits`` is ``[B]`` or ``[B, K]`` (``K`` negatives per
    positive, as many instances as the paper's ratio of 1 : K). Computed from logits with
    ``logsigmoid`` (no overflow for large scores)."""
    if neg_logits.dim() == pos_logits.dim():
        neg_logits = neg_logits.unsqueeze(-1)
    if neg_logits.shape[:-1] != pos_logits.shape:
        raise ValueError(f"neg_logits {tuple(neg_logits.shape)} must be [B] or [B, K] for "
                         f"pos_logits {tuple(pos_logits.shape)}")
    total = F.logsigmoid(pos_logits).sum() + F.logsigmoid(-neg_logits).sum()
    return -total / (pos_logits.numel() + neg_logits.numel())


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


__all__ = ["bpr_loss", "l2_penalty", "log_loss", "sgns_loss"]
