"""Causal multi-head self-attention (SASRec's attention layer)."""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


class CausalSelfAttention(nn.Module):
    r"""Multi-head scaled dot-product attention restricted to earlier positions, from
    `"Self-Attentive Sequential Recommendation" <https://arxiv.org/abs/1808.09781>`_
    (Kang & McAuley, ICDM 2018):

    .. math::
        \mathrm{Attn}(\mathbf{Q}, \mathbf{K}, \mathbf{V}) = \mathrm{softmax}\left(
        \frac{\mathbf{Q}\mathbf{K}^\top}{\sqrt{d_h}} + \mathbf{M}\right)\mathbf{V},
        \qquad \mathbf{Q} = \mathbf{X}_q\mathbf{W}^Q,\ \mathbf{K} = \mathbf{X}_{kv}\mathbf{W}^K,
        \ \mathbf{V} = \mathbf{X}_{kv}\mathbf{W}^V

    per head, heads concatenated and projected by :math:`\mathbf{W}^O`. :math:`\mathbf{M}`
    is :math:`-\infty` where ``allowed`` is false (later positions and padding).

    Args:
        channels: :math:`d`.
        heads: number of heads (``channels`` must be divisible by it).
        dropout: dropout on the attention weights.

    Shapes:
        - input: ``query`` ``[B, T, d]``, ``key_value`` ``[B, T, d]``, ``allowed``
          ``[B, T, T]`` bool (query row, key column).
        - output: ``[B, T, d]``.
    """

    def __init__(self, channels: int, heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.channels = channels
        self.heads = heads
        self.dropout = dropout
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.out = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for linear in (self.query, self.key, self.value, self.out):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def split_heads(self, x: Tensor) -> Tensor:
        """``[B, T, d] -> [B, h, T, d/h]``."""
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, query: Tensor, key_value: Tensor, allowed: Tensor) -> Tensor:
        q = self.split_heads(self.query(query))
        k = self.split_heads(self.key(key_value))
        v = self.split_heads(self.value(key_value))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed.unsqueeze(1),
            dropout_p=self.dropout if self.training else 0.0,
            scale=1.0 / math.sqrt(q.size(-1)))
        return self.out(out.transpose(1, 2).flatten(-2))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, heads={self.heads})"
