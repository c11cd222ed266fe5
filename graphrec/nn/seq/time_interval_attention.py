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

    Args:
        channels: :math:`d`.
        heads: number of heads.
        dropout: dropout on the attention weights.

    Shapes:
        - input: ``query``, ``key_value`` ``[B, T, d]``; ``allowed`` ``[B, T, T]`` bool;
          ``pos_key``, ``pos_value`` ``[T, d]``; ``interval_key``, ``interval_value``
          ``[B, T, T, d]``.
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
                pos_value: Tensor, interval_key: Tensor, interval_value: Tensor) -> Tensor:
        h = self.heads

        def heads(x: Tensor) -> Tensor:  # [..., T, d] -> [..., h, T, d/h] (batch first kept)
            return x.unflatten(-1, (h, -1)).movedim(-2, -3)

        q = heads(self.query(query))                          # [B, h, T, e]
        k = heads(self.key(key_value))
        v = heads(self.value(key_value))
        pk, pv = heads(pos_key), heads(pos_value)             # [h, T, e]
        rk = interval_key.unflatten(-1, (h, -1)).movedim(-2, 1)   # [B, h, T, T, e]
        rv = interval_value.unflatten(-1, (h, -1)).movedim(-2, 1)
        scores = (q @ (k + pk).transpose(-1, -2)
                  + torch.einsum("bhie,bhije->bhij", q, rk)) / math.sqrt(q.size(-1))
        scores = scores.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        out = weights @ (v + pv) + torch.einsum("bhij,bhije->bhie", weights, rv)
        return out.transpose(1, 2).flatten(-2)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, heads={self.heads})"
