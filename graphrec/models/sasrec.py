"""SASRec: self-attentive sequential recommendation."""
from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from graphrec.models.registry import register
from graphrec.models.sequential import (
    SequentialRecommender,
    attention_mask,
    check_attention_args,
)
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.nn.seq.causal_attention import CausalSelfAttention


@register("sasrec")
class SASRec(SequentialRecommender):
    r"""SASRec, from `"Self-Attentive Sequential Recommendation"
    <https://arxiv.org/abs/1808.09781>`_ (Kang & McAuley, ICDM 2018).

    .. math::
        \mathbf{H}^{(0)} = \mathrm{Dropout}(\sqrt{d}\,\mathbf{E}_{s} + \mathbf{P}), \qquad
        \mathbf{H}^{(b)} = \mathrm{Block}_b(\mathbf{H}^{(b-1)}), \qquad
        r_{t, j} = \mathrm{LN}(\mathbf{H}^{(B)})_t^\top \mathbf{e}_j

    with :math:`\mathbf{E}_s` the embeddings of the input items (the shared
    :class:`~graphrec.nn.ItemEmbedding`; zero at padding; the :math:`\sqrt{d}` factor is
    ``scale_embeddings``), :math:`\mathbf{P}` learned
    position embeddings (position ``maxlen - 1`` is always the latest item), and
    :class:`~graphrec.nn.seq.SelfAttentionBlock` blocks of
    :class:`~graphrec.nn.seq.CausalSelfAttention` (``norm_first``: pre-LN, else the
    authors' code layout; ``mhc_expansion``: mHC residuals). Losses and scoring: see
    :class:`~graphrec.models.sequential.SequentialRecommender`.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: :math:`d`.
        num_blocks: number of blocks.
        heads: attention heads.
        dropout: dropout rate (embeddings, attention, blocks).
        maxlen: input window length.
        norm_first: pre-LN blocks (default) or the authors' layout.
        mhc_expansion: ``None`` (plain residuals) or the mHC expansion rate (e.g. 4).
        sinkhorn_iterations: mHC's Sinkhorn-Knopp rounds.
        sinkhorn_implicit_grad: mHC's Sinkhorn gradient by implicit differentiation (see
            :class:`~graphrec.nn.seq.MHCResidual`); unrolled by default.
        loss, num_negatives, item_embedding, init_std, scale_embeddings: see
            :class:`~graphrec.models.sequential.SequentialRecommender`.
    """

    # docs/sequential.md: full softmax cross-entropy, pre-LN; lr from short Beauty pilots
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 3e-3, "batch_size": 128, "epochs": 200, "eval_every": 1, "patience": 5,
        "metric": "ndcg@10", "ks": (5, 10, 20)}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        num_blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.3,
        maxlen: int = 50,
        norm_first: bool = True,
        mhc_expansion: int | None = None,
        sinkhorn_iterations: int = 20,
        sinkhorn_implicit_grad: bool = False,
        loss: str = "ce",
        num_negatives: int = 256,
        item_embedding: ItemEmbedding | None = None,
        init_std: float | None = None,
        scale_embeddings: bool = True,
    ) -> None:
        check_attention_args(heads, dropout)
        super().__init__(num_users, num_items, embedding_dim, maxlen, loss, num_negatives,
                         item_embedding, init_std, scale_embeddings)
        self.position_embedding = nn.Embedding(maxlen, embedding_dim)
        self.input_dropout = nn.Dropout(dropout)
        self.build_blocks(lambda: CausalSelfAttention(embedding_dim, heads, dropout), num_blocks,
                          dropout, norm_first, mhc_expansion, sinkhorn_iterations,
                          sinkhorn_implicit_grad)
        self.reset_parameters()

    def position_tables(self) -> list[nn.Embedding]:
        return [self.position_embedding]

    def encode(self, items: Tensor, positions: Tensor, times: Tensor) -> Tensor:
        del times  # SASRec is order-aware only
        x = self.input_dropout(self.embed_items(items) + self.position_embedding(positions))
        allowed = attention_mask(items)
        return self.run_blocks(x, allowed)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, num_blocks={self.num_blocks}, "
                f"maxlen={self.maxlen}, loss={self.loss_name!r}, "
                f"mhc_expansion={self.mhc_expansion})")
