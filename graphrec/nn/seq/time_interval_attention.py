"""TiSASRec's time-interval aware self-attention."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class TimeIntervalAttention(nn.Module):
    r"""Self-attention with absolute positions and relative time intervals in keys and
    values, from `"Time Interval Aware Self-Attention for Sequential Recommendation"
    <https://doi.org/10.1145/3336191.3371786>`_ (Li, Wang & McAuley, WSDM 2020):

    .. math::
        \alpha_{ij} = \mathrm{softmax}_{j \le i}\left(\frac{\mathbf{m}_i\mathbf{W}^Q
        (\mathbf{m}_j\mathbf{W}^K + \mathbf{r}^K_{ij} + \mathbf{p}^K_j)^\top}{\sqrt{d_h}}
        \right), \qquad
        \mathbf{z}_i = \sum_j \alpha_{ij}(\mathbf{m}_j\mathbf{W}^V + \mathbf{r}^V_{ij} +
        \mathbf{p}^V_j)

    :math:`\mathbf{p}^{K,V}_j` are absolute position embeddings, :math:`\mathbf{r}^{K,V}_{ij}`
    embeddings of the clipped interval :math:`\min(|t_i - t_j|, k)` (both supplied by the
    model, shared by its blocks as in the authors' code). With several heads every
    :math:`d`-vector is split into heads; there is no output projection (the paper has
    none).

    The interval terms are computed from the ``[k+1, d]`` tables without building the
    ``[B, T, T, d]`` pair embeddings: :math:`\mathbf{Q}_i \cdot \mathbf{R}^K_{r_{ij}}` is
    entry :math:`r_{ij}` of :math:`\mathbf{Q}_i \mathbf{R}^{K\top}`, and
    :math:`\sum_j \alpha_{ij} \mathbf{R}^V_{r_{ij}} = \sum_c (\sum_{j: r_{ij} = c}
    \alpha_{ij}) \mathbf{R}^V_c` (a scatter-add, then one matrix product).

    Args:
        channels: :math:`d`.
        heads: number of heads.
        dropout: dropout on the attention weights.

    Shapes:
        - input: ``query``, ``key_value`` ``[B, T, d]``; ``allowed`` ``[B, T, T]`` bool;
          ``pos_key``, ``pos_value`` ``[T, d]``; ``intervals`` ``[B, T, T]`` int in
          ``[0, k]``; ``interval_key``, ``interval_value`` ``[k + 1, d]`` tables.
        - output: ``[B, T, d]``.
    """

    def __init__(self, channels: int, heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.channels = channels
        self.heads = heads
        self.dropout = nn.Dropout(dropout)
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for linear in (self.query, self.key, self.value):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, query: Tensor, key_value: Tensor, allowed: Tensor, pos_key: Tensor,
                pos_value: Tensor, intervals: Tensor, interval_key: Tensor,
                interval_value: Tensor) -> Tensor:
        h = self.heads

        def heads(x: Tensor) -> Tensor:  # [..., T, d] -> [..., h, T, d/h] (batch first kept)
            return x.unflatten(-1, (h, -1)).movedim(-2, -3)

        q = heads(self.query(query))                          # [B, h, T, e]
        k = heads(self.key(key_value))
        v = heads(self.value(key_value))
        pk, pv = heads(pos_key), heads(pos_value)             # [h, T, e]
        rk, rv = heads(interval_key), heads(interval_value)   # [h, k+1, e]
        index = intervals.unsqueeze(1).expand(-1, h, -1, -1)  # [B, h, T, T]
        relative = torch.gather(q @ rk.transpose(-1, -2), -1, index)
        scores = (q @ (k + pk).transpose(-1, -2) + relative) / math.sqrt(q.size(-1))
        scores = scores.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        buckets = weights.new_zeros(*weights.shape[:-1], rk.size(-2))
        buckets.scatter_add_(-1, index, weights)              # [B, h, T, k+1]
        out = weights @ (v + pv) + buckets @ rv
        return out.transpose(1, 2).flatten(-2)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, heads={self.heads})"
