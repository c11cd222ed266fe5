"""Training losses shared by the models (each model's ``loss(batch)`` calls them; the layer
level, so models import them without reaching up to :mod:`graphrec.train`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    r"""Bayesian Personalised Ranking (Rendle et al., UAI 2009):
    :math:`-\frac{1}{B}\sum \ln \sigma(s^+ - s^-)`. ``neg_scores`` may be ``[B]`` or
    ``[B, K]`` (then averaged over the ``K`` negatives as well)."""
    if neg_scores.dim() == pos_scores.dim() + 1:
        pos_scores = pos_scores.unsqueeze(-1)
    return -F.logsigmoid(pos_scores - neg_scores).mean()


def log_loss(pos_logits: Tensor, neg_logits: Tensor, neg_weight: Tensor | None = None
             ) -> Tensor:
    r"""Log loss (binary cross-entropy) of NCF (He et al., WWW 2017, Eq. 7) over positives
    (label 1) and their sampled negatives (label 0), averaged over all instances:
    :math:`-\frac{1}{B(1+K)}\big(\sum \ln \sigma(s^+) + \sum w \ln \sigma(-s^-)\big)`.

    ``pos_logits`` is ``[B]``; ``neg_logits`` is ``[B]`` or ``[B, K]`` (``K`` negatives per
    positive, as many instances as the paper's ratio of 1 : K). ``neg_weight`` (optional, the
    shape of ``neg_logits``, default 1) weighs each negative; 0 drops an invalid one (the
    hybrid model's rows without a usable negative) while the denominator stays
    :math:`B(1+K)`. Computed from logits with ``logsigmoid`` (no overflow for large
    scores)."""
    if neg_logits.dim() == pos_logits.dim():
        neg_logits = neg_logits.unsqueeze(-1)
        if neg_weight is not None:
            neg_weight = neg_weight.unsqueeze(-1)
    if neg_logits.shape[:-1] != pos_logits.shape:
        raise ValueError(f"neg_logits {tuple(neg_logits.shape)} must be [B] or [B, K] for "
                         f"pos_logits {tuple(pos_logits.shape)}")
    negative = F.logsigmoid(-neg_logits)
    if neg_weight is not None:
        negative = negative * neg_weight
    total = F.logsigmoid(pos_logits).sum() + negative.sum()
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


def sampled_softmax_loss(query: Tensor, positive: Tensor, negatives: Tensor | None = None, *,
                         temperature: float = 1.0, positive_ids: Tensor | None = None,
                         negative_ids: Tensor | None = None,
                         log_q_positive: Tensor | None = None,
                         log_q_negative: Tensor | None = None, in_batch: bool = True,
                         remove_accidental_hits: bool = True) -> Tensor:
    r"""Sampled softmax for retrieval: in-batch negatives, optional shared uniform negatives
    (mixed negative sampling), logQ correction and removal of accidental hits; mean over rows.

    Row :math:`i` has the query :math:`\mathbf{u}_i` and its positive item :math:`\mathbf{v}_i`.
    Its candidates :math:`C_i` are the positives of every row of the batch when ``in_batch``
    (the two-tower in-batch softmax of Yi et al., RecSys 2019,
    https://doi.org/10.1145/3298689.3346996), else its own positive only, followed by the
    ``N`` shared ``negatives`` (uniform from the catalogue in mixed negative sampling, Yang et
    al., WWW 2020 companion, https://doi.org/10.1145/3366424.3386195). Each candidate's logit
    is scaled by the temperature first and then logQ-corrected:

    .. math::
        s^c_{ij} = \frac{\mathbf{u}_i^\top \mathbf{v}_j}{\tau} - \log q_j, \qquad
        \mathcal{L} = -\frac{1}{B}\sum_i \log
        \frac{e^{s^c_{ii}}}{\sum_{j \in C_i} e^{s^c_{ij}}},

    where :math:`q_j` is the expected number of times candidate :math:`j` is drawn into the
    softmax: for in-batch candidates (``log_q_positive``) the batch size times the item's
    per-event frequency (e.g. from
    :class:`~graphrec.sampling.frequency.FrequencyEstimator`), for ``N`` shared uniform
    negatives (``log_q_negative``) :math:`N/|\mathcal{I}|`. Within one group only
    differences of :math:`\log q` matter; when both groups are mixed they must be on this
    common scale.
    As in the paper (and TensorFlow's ``sampled_softmax_loss``) the correction applies to the
    row's own positive too, so every candidate of the softmax is corrected alike.

    Accidental hits: a candidate with the same id as row :math:`i`'s positive, other than that
    positive itself (a repeated item in the batch, or a sampled negative that is the target),
    gets logit :math:`-\infty`. This needs ids: ``positive_ids`` (and ``negative_ids`` when
    ``negatives`` are given); without ``positive_ids`` nothing is removed.

    Args:
        query: ``[B, d]`` query (user) vectors :math:`\mathbf{u}`.
        positive: ``[B, d]`` vectors of each row's positive item :math:`\mathbf{v}`.
        negatives: ``[N, d]`` negatives shared by all rows, or ``None``.
        temperature: :math:`\tau > 0`.
        positive_ids: ``[B]`` item ids of the positives (accidental hits).
        negative_ids: ``[N]`` item ids of the negatives (accidental hits).
        log_q_positive: ``[B]`` :math:`\log q` of each positive as an in-batch candidate.
        log_q_negative: ``[N]`` :math:`\log q` of each negative.
        in_batch: the other rows' positives are negatives of each row.
        remove_accidental_hits: mask accidental hits (needs ``positive_ids``).

    Returns:
        the scalar mean loss.
    """
    if query.dim() != 2 or positive.shape != query.shape:
        raise ValueError(f"query and positive must both be [B, d] (got {tuple(query.shape)} "
                         f"and {tuple(positive.shape)})")
    batch, dim = query.shape
    if negatives is not None and (negatives.dim() != 2 or negatives.shape[1] != dim):
        raise ValueError(f"negatives must be [N, {dim}] (got {tuple(negatives.shape)})")
    if not in_batch and negatives is None:
        raise ValueError("in_batch=False needs negatives: the softmax has no candidate but "
                         "the positive")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (got {temperature})")
    num_neg = 0 if negatives is None else negatives.shape[0]
    _check_vector("positive_ids", positive_ids, batch)
    _check_vector("log_q_positive", log_q_positive, batch)
    _check_vector("negative_ids", negative_ids, num_neg, negatives is None)
    _check_vector("log_q_negative", log_q_negative, num_neg, negatives is None)
    # A softmax where some candidates are corrected and others not is no estimate of anything
    # (the row's own positive is a candidate too, so even in_batch=False needs both).
    if negatives is not None and (log_q_positive is None) != (log_q_negative is None):
        raise ValueError("logQ correction with negatives needs both log_q_positive and "
                         "log_q_negative (or neither)")
    remove = remove_accidental_hits and positive_ids is not None
    if remove and negatives is not None and negative_ids is None:
        raise ValueError("removing accidental hits among negatives needs negative_ids "
                         "(or pass remove_accidental_hits=False)")

    rows = torch.arange(batch, device=query.device)
    query = query / temperature  # [B, d]: cheaper than dividing [B, C] logits
    if in_batch:
        # one [B, B + N] product and in-place corrections: the logits are the largest
        # tensor here, so every extra pass over them (a cat, a second matmul) shows
        candidates = positive if negatives is None else torch.cat([positive, negatives])
        logits = query @ candidates.t()  # target on the diagonal
        if log_q_positive is not None:
            log_q = (log_q_positive if negatives is None
                     else torch.cat([log_q_positive, log_q_negative]))
            logits.sub_(log_q.to(logits.dtype).unsqueeze(0))
        if remove:
            ids = positive_ids if negatives is None else torch.cat([positive_ids, negative_ids])
            hit = positive_ids.unsqueeze(1) == ids.unsqueeze(0)
            hit[rows, rows] = False
            _mask_without_autograd(logits, hit)
        return F.cross_entropy(logits, rows)
    logits = (query * positive).sum(-1, keepdim=True)  # [B, 1]
    if log_q_positive is not None:
        logits = logits - log_q_positive.to(logits.dtype).unsqueeze(1)
    negative_logits = query @ negatives.t()  # [B, N]
    if log_q_negative is not None:
        negative_logits.sub_(log_q_negative.to(logits.dtype).unsqueeze(0))
    if remove:
        hit = positive_ids.unsqueeze(1) == negative_ids.unsqueeze(0)
        _mask_without_autograd(negative_logits, hit)
    logits = torch.cat([logits, negative_logits], dim=1)
    target = torch.zeros(batch, dtype=torch.long, device=query.device)
    return F.cross_entropy(logits, target)


def full_softmax_loss(query: Tensor, item_table: Tensor, targets: Tensor,
                      temperature: float = 1.0) -> Tensor:
    r"""Softmax over the whole catalogue (where it fits), mean over rows:
    :math:`-\frac{1}{B}\sum_i \log \mathrm{softmax}_j(\mathbf{u}_i^\top
    \mathbf{E}_j / \tau)_{t_i}`.

    Args:
        query: ``[B, d]`` query vectors.
        item_table: ``[I, d]`` every item's vector.
        targets: ``[B]`` item indices in ``[0, I)``.
        temperature: :math:`\tau > 0`.
    """
    if query.dim() != 2 or item_table.dim() != 2 or query.shape[1] != item_table.shape[1]:
        raise ValueError(f"query [B, d] and item_table [I, d] must share d (got "
                         f"{tuple(query.shape)} and {tuple(item_table.shape)})")
    _check_vector("targets", targets, query.shape[0])
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= item_table.shape[0]):
        raise ValueError(f"targets must lie in [0, {item_table.shape[0]}) (got "
                         f"[{int(targets.min())}, {int(targets.max())}])")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (got {temperature})")
    return F.cross_entropy(query @ item_table.t() / temperature, targets.long())


def _mask_without_autograd(logits: Tensor, hit: Tensor) -> None:
    """Sets the accidental hits' logits to -inf in place, unrecorded by autograd.

    Exact, not an approximation: a masked logit is never a row's target and its softmax
    probability is 0, so the cross-entropy's gradient there is already exactly 0; recording
    the fill would only add a backward pass that zeroes zeros over the whole ``[B, C]``
    matrix (about 10 % of a LightGCN training step on Gowalla, ``benchmarks/softmax_loss.py``).
    Safe because no autograd node saves ``logits`` itself: the product that made it saves its
    inputs, the in-place logQ subtraction saves nothing, and the cross-entropy runs after.
    """
    with torch.no_grad():
        logits.masked_fill_(hit, float("-inf"))


def _check_vector(name: str, value: Tensor | None, length: int, forbidden: bool = False
                  ) -> None:
    if value is None:
        return
    if forbidden:
        raise ValueError(f"{name} was given without negatives")
    if value.dim() != 1 or value.shape[0] != length:
        raise ValueError(f"{name} must have shape [{length}] (got {tuple(value.shape)})")


def warp_loss(pos_scores: Tensor, neg_scores: Tensor, weight: Tensor,
              margin: float = 1.0) -> Tensor:
    r"""WARP's rank-weighted hinge (Weston et al., IJCAI 2011), mean over the batch:
    :math:`\frac{1}{B}\sum_b L(\hat r_b)\,\max(0, m - s^+_b + s^-_b)`, with the rank
    weight :math:`L(\hat r_b)` (``weight``, treated as a constant; 0 for rows where no
    violating negative was found) from :func:`graphrec.sampling.warp.first_violation`."""
    hinge = (margin - pos_scores + neg_scores).clamp(min=0)
    return (weight.detach() * hinge).mean()


__all__ = ["bpr_loss", "full_softmax_loss", "l2_penalty", "log_loss", "sampled_softmax_loss",
           "sgns_loss", "warp_loss"]
