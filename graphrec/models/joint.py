"""A sequence model and a graph model trained together on one shared item table."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.models.base import EmbeddingRecommender, Recommender
from graphrec.models.registry import register
from graphrec.models.sequential import SequentialRecommender
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.sampling.batches import PairBatch, PairBatches
from graphrec.sampling.sequence_batches import SequenceBatch, SequenceBatches


@dataclass
class JointBatch:
    """One sequence batch and one BPR batch, stepped together."""

    sequence: SequenceBatch
    pairs: PairBatch

    def __len__(self) -> int:
        return len(self.sequence)


class JointBatches:
    """An epoch of sequence batches, each paired with a BPR batch; the BPR batch size is
    chosen so one epoch also covers every training interaction about once."""

    def __init__(self, sequences: SequenceBatches, pairs: PairBatches) -> None:
        self.sequences = sequences
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[JointBatch]:
        pair_iter = iter(self.pairs)
        for sequence in self.sequences:
            pairs = next(pair_iter, None)
            if pairs is None:  # rounding left the BPR epoch one batch short: start another
                pair_iter = iter(self.pairs)
                pairs = next(pair_iter)
            yield JointBatch(sequence, pairs)


@register("joint")
class JointRecommender(Recommender):
    r"""Joint training of a sequence model and a graph model sharing one
    :class:`~graphrec.nn.ItemEmbedding`:

    .. math::
        \mathcal{L} = \mathcal{L}_{\text{seq}} + \lambda\,\mathcal{L}_{\text{BPR}}

    (the graph model's BPR loss with its own L2 term). Scores are the sequence model's, so
    it is evaluated like one; the graph model only shapes the shared table.

    Args:
        sequence_model: e.g. :class:`~graphrec.models.SASRec`.
        graph_model: e.g. :class:`~graphrec.models.LightGCN` built with the same
            ``item_embedding``.
        graph_weight: :math:`\lambda`.
    """

    default_split: ClassVar[str | None] = "loo"  # last item test, second last validation

    # SASRec's settings (docs/sequential.md, the sasrec_joint row)
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 3e-3, "batch_size": 128, "epochs": 200, "eval_every": 1, "patience": 5,
        "metric": "ndcg@10", "ks": (5, 10, 20)}

    @classmethod
    def from_graph(cls, train_graph: HeteroData, sequence_model: str = "sasrec",
                   graph_model: str = "lightgcn", embedding_dim: int = 64,
                   sequence_hyperparameters: dict | None = None,
                   graph_hyperparameters: dict | None = None,
                   **kwargs: Any) -> JointRecommender:
        """Builds both models by registry name around one new shared
        :class:`~graphrec.nn.ItemEmbedding` of width ``embedding_dim``; each starts from its
        declared defaults, with ``sequence_hyperparameters`` / ``graph_hyperparameters`` over
        them; ``kwargs``: ``graph_weight``."""
        from graphrec.models.registry import build_model, check_hyperparameters

        sequence_kwargs = check_hyperparameters(sequence_model, dict(sequence_hyperparameters
                                                                     or {}))
        graph_kwargs = check_hyperparameters(graph_model, dict(graph_hyperparameters or {}))
        table = ItemEmbedding(train_graph[ITEM].num_nodes, embedding_dim,
                              sequence_kwargs.get("init_std"))
        sequence = build_model(sequence_model, train_graph, item_embedding=table,
                               **{**sequence_kwargs, "embedding_dim": embedding_dim})
        graph = build_model(graph_model, train_graph, item_embedding=table,
                            **{**graph_kwargs, "embedding_dim": embedding_dim})
        if not isinstance(sequence, SequentialRecommender):
            raise ValueError(f"sequence_model {sequence_model!r} is not a sequence model")
        return cls(sequence, graph, **kwargs)

    def __init__(self, sequence_model: SequentialRecommender,
                 graph_model: EmbeddingRecommender, graph_weight: float = 0.1) -> None:
        super().__init__()
        if sequence_model.item_embedding is not getattr(graph_model, "item_embedding", None):
            raise ValueError("the two models must be built with the same ItemEmbedding")
        self.sequence_model = sequence_model
        self.graph_model = graph_model
        self.graph_weight = check_number("graph_weight", graph_weight, low=0)
        self.num_users = sequence_model.num_users
        self.num_items = sequence_model.num_items

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> JointBatches:
        sequences = self.sequence_model.train_batches(train, batch_size, device, seed)
        pair_size = -(-train.num_interactions // max(len(sequences), 1))
        return JointBatches(sequences, PairBatches(train, batch_size=pair_size, device=device,
                                                   seed=seed + 1))

    def loss(self, batch: JointBatch) -> Tensor:
        return (self.sequence_model.loss(batch.sequence)
                + self.graph_weight * self.graph_model.loss(batch.pairs))

    def scorer(self) -> Callable[[Tensor], Tensor]:
        return self.sequence_model.scorer()

    def scorer_from(self, history: Interactions | Sequence[Interactions] | None
                    ) -> Callable[[Tensor], Tensor]:
        return self.sequence_model.scorer_from(history)

    def score_histories(self, histories: Interactions) -> Tensor:
        """New users are scored by the sequence model (it is what ranks at inference)."""
        return self.sequence_model.score_histories(histories)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.sequence_model}, {self.graph_model}, "
                f"graph_weight={self.graph_weight})")


__all__ = ["JointBatch", "JointBatches", "JointRecommender"]
