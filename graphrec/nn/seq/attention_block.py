"""One self-attention block of a sequence model: attention, feed-forward and their residuals."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from graphrec.nn.seq.mhc import MHCResidual


class SelfAttentionBlock(nn.Module):
    r"""A SASRec-style block around any self-attention layer, from `"Self-Attentive
    Sequential Recommendation" <https://arxiv.org/abs/1808.09781>`_: attention, then the
    point-wise feed-forward :math:`\mathrm{FFN}(\mathbf{x}) = \mathrm{ReLU}(\mathbf{x}
    \mathbf{W}_1 + \mathbf{b}_1)\mathbf{W}_2 + \mathbf{b}_2`, each with dropout, layer
    norm and a residual.

    Three residual layouts:

    * ``norm_first=True`` (pre-LN; the paper's formula :math:`g(\mathbf{x}) = \mathbf{x} +
      \mathrm{Dropout}(g(\mathrm{LayerNorm}(\mathbf{x})))`):
      :math:`\mathbf{x} \leftarrow \mathbf{x} + \mathrm{Drop}(\mathrm{Attn}(\mathrm{LN}_1
      \mathbf{x}))`, :math:`\mathbf{x} \leftarrow \mathbf{x} + \mathrm{Drop}(\mathrm{FFN}(
      \mathrm{LN}_2\mathbf{x}))`.
    * ``norm_first=False``: the authors' code layout, queries normalised, keys and values
      not, residuals from the normalised tensors: :math:`\mathbf{q} = \mathrm{LN}_1
      \mathbf{x}`, :math:`\mathbf{x} \leftarrow \mathbf{q} + \mathrm{Drop}(\mathrm{Attn}(
      \mathbf{q}, \mathbf{x}))`, :math:`\mathbf{y} = \mathrm{LN}_2\mathbf{x}`,
      :math:`\mathbf{x} \leftarrow \mathbf{y} + \mathrm{Drop}(\mathrm{FFN}(\mathbf{y}))`.
    * ``mhc_expansion=n``: both residuals are :class:`~graphrec.nn.seq.MHCResidual` over
      ``n`` streams with the pre-LN sub-layers :math:`\mathrm{Drop}(\mathrm{Attn}(\mathrm{LN}_1
      \cdot))` and :math:`\mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}_2 \cdot))` (requires
      ``norm_first``).

    Args:
        attention: the attention layer, called as ``attention(query, key_value, allowed,
            **context)`` (e.g. :class:`~graphrec.nn.seq.CausalSelfAttention`).
        channels: :math:`d`.
        dropout: dropout after attention and inside / after the feed-forward.
        norm_first: pre-LN (``True``) or the authors' layout.
        mhc_expansion: ``None`` for plain residuals, else the mHC expansion rate.
        sinkhorn_iterations: mHC's Sinkhorn-Knopp rounds.
        sinkhorn_implicit_grad: mHC's Sinkhorn gradient by implicit differentiation.

    Shapes:
        - input: ``x`` ``[B, T, d]`` (``[B, T, n, d]`` with mHC), ``allowed`` ``[B, T, T]``.
        - output: same shape as ``x``.
    """

    def __init__(
        self,
        attention: nn.Module,
        channels: int,
        dropout: float = 0.2,
        norm_first: bool = True,
        mhc_expansion: int | None = None,
        sinkhorn_iterations: int = 20,
        sinkhorn_implicit_grad: bool = False,
    ) -> None:
        super().__init__()
        if mhc_expansion is not None and not norm_first:
            raise ValueError("mHC residuals wrap pre-LN sub-layers: use norm_first=True")
        self.channels = channels
        self.norm_first = norm_first
        self.mhc_expansion = mhc_expansion
        self.attention = attention
        self.attention_norm = nn.LayerNorm(channels)
        self.ffn_norm = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(channels, channels))
        self.dropout = nn.Dropout(dropout)
        self.mhc_attention = self.mhc_ffn = None
        if mhc_expansion is not None:
            self.mhc_attention = MHCResidual(channels, mhc_expansion, sinkhorn_iterations,
                                             sinkhorn_implicit_grad)
            self.mhc_ffn = MHCResidual(channels, mhc_expansion, sinkhorn_iterations,
                                       sinkhorn_implicit_grad)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.attention.reset_parameters()
        self.attention_norm.reset_parameters()
        self.ffn_norm.reset_parameters()
        for layer in self.ffn:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        for residual in (self.mhc_attention, self.mhc_ffn):
            if residual is not None:
                residual.reset_parameters()

    def forward(self, x: Tensor, allowed: Tensor, **context: Any) -> Tensor:
        def attend(query: Tensor, key_value: Tensor) -> Tensor:
            return self.dropout(self.attention(query, key_value, allowed, **context))

        def attention_sublayer(h: Tensor) -> Tensor:
            h = self.attention_norm(h)
            return attend(h, h)

        def ffn_sublayer(h: Tensor) -> Tensor:
            return self.dropout(self.ffn(self.ffn_norm(h)))

        if self.mhc_attention is not None:
            x = self.mhc_attention(x, attention_sublayer)
            return self.mhc_ffn(x, ffn_sublayer)
        if self.norm_first:
            x = x + attention_sublayer(x)
            return x + ffn_sublayer(x)
        query = self.attention_norm(x)
        x = query + attend(query, x)
        y = self.ffn_norm(x)
        return y + self.dropout(self.ffn(y))

    def __repr__(self) -> str:
        residual = (f"mhc_expansion={self.mhc_expansion}" if self.mhc_expansion
                    else f"norm_first={self.norm_first}")
        return f"{self.__class__.__name__}({self.attention}, {residual})"
