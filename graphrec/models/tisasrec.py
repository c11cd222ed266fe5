"""TiSASRec: time-interval aware self-attention for sequential recommendation."""
from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from graphrec.graph.checks import check_number
from graphrec.models.registry import register
from graphrec.models.sequential import (
    SequentialRecommender,
    attention_mask,
    check_attention_args,
)
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.nn.seq.time_interval_attention import TimeIntervalAttention


@register("tisasrec")
class TiSASRec(SequentialRecommender):
    r"""TiSASRec, from `"Time Interval Aware Self-Attention for Sequential Recommendation"
    <https://doi.org/10.1145/3336191.3371786>`_ (Li, Wang & McAuley, WSDM 2020).

    Each user's timestamps become personalised steps :math:`t'` (in units of the user's
    smallest non-zero gap, :meth:`~graphrec.graph.sequences.Sequences.scaled_times`);
    the interval of positions :math:`i, j` is :math:`r_{ij} = \min(|t'_i - t'_j|, k)`.
    Blocks of :class:`~graphrec.nn.seq.TimeIntervalAttention` add absolute position
    embeddings :math:`\mathbf{P}^K, \mathbf{P}^V` and interval embeddings
    :math:`\mathbf{R}^K, \mathbf{R}^V` to keys and values:

    .. math::
        \alpha_{ij} = \mathrm{softmax}_{j\le i}\left(\frac{\mathbf{Q}_i(\mathbf{K}_j +
        \mathbf{P}^K_j + \mathbf{R}^K_{r_{ij}})^\top}{\sqrt{d}}\right), \qquad
        \mathbf{z}_i = \sum_j \alpha_{ij}(\mathbf{V}_j + \mathbf{P}^V_j + \mathbf{R}^V_{r_{ij}})

    The input is the item embeddings alone, times √d (``scale_embeddings``; positions enter
    through keys and values); the
    four embeddings are shared by all blocks, as in the authors' code. Dropout acts on the
    interval tables (one mask per batch) rather than on every pair's embedding, which keeps
    attention free of ``[B, T, T, d]`` tensors (graphrec's choice). Blocks, residuals
    (``norm_first``, ``mhc_expansion``), losses and scoring as :class:`SASRec`.

    Args:
        time_span: the clip :math:`k` of intervals.
        other arguments: as :class:`~graphrec.models.SASRec`.
    """

    # docs/sequential.md: as SASRec
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 3e-3, "batch_size": 128, "epochs": 200, "eval_every": 1, "patience": 5,
        "metric": "ndcg@10", "ks": (5, 10, 20)}

    uses_time = True

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        num_blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.3,
        maxlen: int = 50,
        time_span: int = 256,
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
        self.time_span = check_number("time_span", time_span, integer=True, low=1)
        self.position_key = nn.Embedding(maxlen, embedding_dim)
        self.position_value = nn.Embedding(maxlen, embedding_dim)
        self.interval_key = nn.Embedding(time_span + 1, embedding_dim)
        self.interval_value = nn.Embedding(time_span + 1, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.build_blocks(lambda: TimeIntervalAttention(embedding_dim, heads, dropout), num_blocks,
                          dropout, norm_first, mhc_expansion, sinkhorn_iterations,
                          sinkhorn_implicit_grad)
        self.reset_parameters()

    def position_tables(self) -> list[nn.Embedding]:
        return [self.position_key, self.position_value, self.interval_key, self.interval_value]

    def intervals(self, times: Tensor) -> Tensor:
        """``[B, T]`` time steps -> ``[B, T, T]`` clipped intervals ``min(|t_i - t_j|, k)``."""
        return (times.unsqueeze(2) - times.unsqueeze(1)).abs().clamp(max=self.time_span)

    def encode(self, items: Tensor, positions: Tensor, times: Tensor) -> Tensor:
        x = self.dropout(self.embed_items(items))
        context = {
            "pos_key": self.dropout(self.position_key(positions)),
            "pos_value": self.dropout(self.position_value(positions)),
            "intervals": self.intervals(times),
            "interval_key": self.dropout(self.interval_key.weight),
            "interval_value": self.dropout(self.interval_value.weight),
        }
        allowed = attention_mask(items)
        return self.run_blocks(x, allowed, **context)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, num_blocks={self.num_blocks}, "
                f"maxlen={self.maxlen}, time_span={self.time_span}, loss={self.loss_name!r}, "
                f"mhc_expansion={self.mhc_expansion})")
