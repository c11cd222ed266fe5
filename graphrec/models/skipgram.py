r"""Item embeddings trained with skip-gram and negative sampling: item2vec, DeepWalk /
node2vec (BGE) and EGES / GES.

One model class serves every corpus; what differs is the corpus
(:class:`~graphrec.sampling.skipgram.SkipGramCorpus`) it is built with and, for EGES, how
the centre embedding :math:`\mathbf{H}_v` is made:

* **item2vec** (`Barkan & Koenigstein, 2016 <https://arxiv.org/abs/1603.04259>`_): the
  corpus is each user's item sequence (``mode="sequence"``) or set (``mode="set"``); with
  ``global_context`` the sequences are sessions and each one's last item is a context of
  all its items (`Grbovic & Cheng, KDD 2018
  <https://doi.org/10.1145/3219819.3219885>`_);
* **DeepWalk / node2vec / BGE**: the corpus is random walks on the item graph
  (:func:`walk_corpus`);
* **EGES / GES** (:class:`EGES`): the same walks; :math:`\mathbf{H}_v` comes from
  :class:`~graphrec.nn.conv.EGESConv` over the item's id and side-information embeddings.

All are trained by the one :class:`~graphrec.train.Trainer`: ``train_batches`` yields
:class:`~graphrec.sampling.skipgram.SkipGramBatch` es and ``loss`` is
:func:`~graphrec.nn.losses.sgns_loss` of :math:`\sigma(\mathbf{H}_v^\top \mathbf{Z}_u)`
with a separate context table :math:`\mathbf{Z}`. The ``train`` interactions the trainer
passes are not the corpus (it was fixed at construction); ``fit`` keeps them to score users.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.graph.sessions import build_sessions, item_graph
from graphrec.graph.side_info import SideField, side_fields
from graphrec.graph.walk_graph import WalkGraph
from graphrec.models.base import Recommender, check_sizes
from graphrec.models.registry import register
from graphrec.nn.conv.eges_conv import EGESConv
from graphrec.nn.losses import sgns_loss
from graphrec.sampling.skipgram import SkipGramBatch, SkipGramBatches, SkipGramCorpus
from graphrec.sampling.walks import random_walks


def walk_corpus(
    graph: WalkGraph,
    walks_per_node: int = 10,
    length: int = 20,
    *,
    weighted: bool = True,
    p: float = 1.0,
    q: float = 1.0,
    seed: int = 0,
) -> SkipGramCorpus:
    """``walks_per_node`` walks of ``length`` steps from every node with an out-edge
    (:func:`~graphrec.sampling.random_walks`; ``weighted``: BGE's weight-proportional steps;
    ``p, q``: node2vec), as a skip-gram corpus."""
    starts = (graph.out_degree > 0).nonzero().view(-1).repeat(walks_per_node)
    generator = torch.Generator(device=graph.device).manual_seed(seed)
    walks = random_walks(graph, starts, length, weighted=weighted, p=p, q=q,
                         generator=generator)
    return SkipGramCorpus.from_walks(walks, graph.num_nodes)


CORPORA = ("sequences", "deepwalk", "node2vec")


def corpus_from_graph(graph: HeteroData, corpus: str = "sequences", walks_per_node: int = 10,
                      walk_length: int = 20, p: float = 1.0, q: float = 1.0,
                      session_gap: int | None = None, seed: int = 0) -> SkipGramCorpus:
    """A skip-gram corpus from a graph's user–item interactions (see
    :meth:`SkipGram.from_graph`). Without times, each user's items keep the graph's edge
    order (``order`` when the loader kept the file order)."""
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {CORPORA} (got {corpus!r})")
    store = graph[INTERACTS]
    users, items = store.edge_index
    times = store.get("time")
    if times is None:
        times = store.get("order", torch.arange(users.numel()))
        session_gap = None
    sessions = build_sessions(users, items, times, graph[ITEM].num_nodes, max_gap=session_gap)
    if corpus == "sequences":
        return SkipGramCorpus.from_sessions(sessions)
    second_order = corpus == "node2vec"
    return walk_corpus(item_graph(sessions, symmetric=True), walks_per_node, walk_length,
                       weighted=True, p=p if second_order else 1.0,
                       q=q if second_order else 1.0, seed=seed)


@register("skipgram")
class SkipGram(Recommender):
    r"""Item embeddings :math:`\mathbf{H}` (centre) and :math:`\mathbf{Z}` (context) trained
    with skip-gram and negative sampling on a fixed corpus.

    Item-to-item similarity is the cosine of :math:`\mathbf{H}` rows
    (:meth:`item_embeddings`). As a :class:`~graphrec.models.Recommender`, item :math:`i`
    scores :math:`\sum_{j \in \mathcal{I}_u} \cos(\mathbf{h}_j, \mathbf{h}_i)` for user
    :math:`u` (the sum over their training items ``fit`` stored; it ranks like the mean); a
    user without training items scores 0 everywhere.

    Args:
        num_users, num_items: index space sizes.
        corpus: the token sequences (item ids).
        embedding_dim: :math:`d`.
        window, num_negatives, subsample, mode, global_context: see
            :class:`~graphrec.sampling.skipgram.SkipGramBatches`.

    Items that never occur in the corpus keep their random initial vectors (id-only models
    cannot embed them); ``has_id`` marks the items that do occur.
    """

    # examples/item_embeddings.py's settings (docs/item_embeddings.md); per-data-set epochs
    # and batch sizes are presets
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 0.02, "epochs": 5, "batch_size": 8192,
                                                 "patience": 0}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        corpus: SkipGramCorpus,
        embedding_dim: int = 64,
        window: int = 5,
        num_negatives: int = 5,
        subsample: float = 1e-3,
        mode: str = "sequence",
        global_context: bool = False,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        if corpus.num_tokens != num_items:
            raise ValueError(f"corpus vocabulary ({corpus.num_tokens}) != num_items "
                             f"({num_items})")
        self.corpus = corpus
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        check_number("window", window, integer=True, low=1)
        check_number("num_negatives", num_negatives, integer=True, low=0)
        check_number("subsample", subsample, low=0)
        if mode not in ("sequence", "set"):
            raise ValueError(f"mode must be 'sequence' or 'set' (got {mode!r})")
        self.sampling = dict(window=window, num_negatives=num_negatives, subsample=subsample,
                             mode=mode, global_context=global_context)
        self.center = nn.Embedding(num_items, embedding_dim)
        self.context = nn.Embedding(num_items, embedding_dim)
        self.register_buffer("has_id", corpus.counts() > 0)
        self.train_interactions: Interactions | None = None
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, corpus: str = "sequences",
                   walks_per_node: int = 10, walk_length: int = 20, p: float = 1.0,
                   q: float = 1.0, session_gap: int | None = None, corpus_seed: int = 0,
                   **kwargs) -> SkipGram:
        """Builds the model on a corpus made from the training graph's interactions.

        Args:
            corpus: ``"sequences"`` (item2vec: each user's items in time order, cut into
                sessions at gaps of ``session_gap`` seconds; ``None``: one sequence per
                user), ``"deepwalk"`` (weighted walks on the sessions' symmetric item
                graph, BGE) or ``"node2vec"`` (the same walks biased by ``p``, ``q``).
            walks_per_node, walk_length: walks from every item with a neighbour.
            corpus_seed: seeds the walks.
            **kwargs: the constructor's hyperparameters.
        """
        made = corpus_from_graph(train_graph, corpus, walks_per_node, walk_length, p, q,
                                 session_gap, corpus_seed)
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, made, **kwargs)

    def reset_parameters(self) -> None:
        # word2vec: centre vectors U(-0.5/d, 0.5/d), context vectors zero
        bound = 0.5 / self.embedding_dim
        nn.init.uniform_(self.center.weight, -bound, bound)
        nn.init.zeros_(self.context.weight)

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> SkipGramBatches:
        return SkipGramBatches(self.corpus, batch_size=batch_size, device=device, seed=seed,
                               **self.sampling)

    def center_embeddings(self, items: Tensor) -> Tensor:
        """``[B, d]`` :math:`\\mathbf{H}` rows of ``[B]`` ``items``."""
        # index_select, not nn.Embedding: its backward is one index_add, while the
        # embedding backward sorts the indices (twice as slow on CPU here)
        return self.center.weight.index_select(0, items)

    def item_embeddings(self) -> Tensor:
        """``[num_items, d]`` :math:`\\mathbf{H}` of every item."""
        return self.center.weight

    def cold_item_embeddings(self) -> Tensor | None:
        """Embeddings for scoring pairs with a cold-start item; ``None``: this model cannot
        embed items it never saw."""
        return None

    def loss(self, batch: SkipGramBatch) -> Tensor:
        size, k = batch.negatives.shape
        rows = self.context.weight.index_select(
            0, torch.cat([batch.context, batch.negatives.reshape(-1)]))
        return sgns_loss(self.center_embeddings(batch.center), rows[:size],
                         rows[size:].view(size, k, -1))

    def fit(self, train: Interactions) -> None:
        self.train_interactions = train

    def get_extra_state(self) -> dict[str, Tensor]:
        """The training interactions ``fit`` stored (users are scored from them), so a saved
        or checkpointed model scores users alike after :meth:`set_extra_state`."""
        if self.train_interactions is None:
            return {}
        train = self.train_interactions
        return {"edge_index": torch.stack([train.users, train.indices])}

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        self.train_interactions = (None if not state else Interactions(
            state["edge_index"], self.num_users, self.num_items))

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Cosine similarities of the items' :math:`\\mathbf{H}` rows (a new user's history
        is then scored as a trained user is: the sum over its items)."""
        items = F.normalize(self.item_embeddings(), dim=-1)
        return lambda query: items[query.to(items.device)] @ items.t()

    def scorer(self) -> Callable[[Tensor], Tensor]:
        if self.train_interactions is None:
            raise RuntimeError("fit(train) first: users are scored from their training items")
        items = F.normalize(self.item_embeddings(), dim=-1)
        train = self.train_interactions.to(items.device)

        def score(users: Tensor) -> Tensor:
            users = users.to(items.device)
            row, item = train.rows(users)
            profile = torch.zeros(users.numel(), items.size(1), device=items.device,
                                  dtype=items.dtype).index_add_(0, row, items[item])
            return profile @ items.t()

        return score

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_items}, embedding_dim="
                f"{self.embedding_dim}, corpus={self.corpus.num_occurrences} tokens)")


@register("eges")
class EGES(SkipGram):
    r"""EGES (``attention=True``) or GES (``attention=False``): skip-gram on walk contexts
    with :math:`\mathbf{H}_v` from :class:`~graphrec.nn.conv.EGESConv` over the item's id
    embedding and the mean embedding of its values in each side-information field, from
    `Wang et al., KDD 2018 <https://arxiv.org/abs/1803.02349>`_.

    Cold-start items (not in the corpus, ``has_id`` false) are embedded from side
    information alone: the id field is left out and the attention logits are the mean
    logits of the warm items (see :class:`~graphrec.nn.conv.EGESConv`).

    ``id_dropout`` (graphrec's addition, not in the paper; 0 disables it): in training, each
    distinct centre of a batch is embedded *as if it were cold* with this probability (id
    left out, default attention), so the side-information tables are also trained to stand
    alone, which is how cold items are embedded at test time.

    Args:
        side_fields: the fields (:func:`~graphrec.graph.side_info.side_fields`).
        attention: learned per-item attention (EGES) or uniform weights (GES).
        id_dropout: probability of embedding a training centre from side information only.
        **kwargs: as :class:`SkipGram`.
    """

    @classmethod
    def from_graph(cls, train_graph: HeteroData, corpus: str = "deepwalk",
                   walks_per_node: int = 10, walk_length: int = 20, p: float = 1.0,
                   q: float = 1.0, session_gap: int | None = None, corpus_seed: int = 0,
                   **kwargs) -> EGES:
        """As :meth:`SkipGram.from_graph` (walks by default, as in the paper), with one
        side-information field per ``('item', relation, value type)`` edge type of the graph
        (:mod:`graphrec.graph.side_info` adds them: genres, years, tags)."""
        relations = [edge_type for edge_type in train_graph.edge_types
                     if edge_type[0] == ITEM and edge_type[2] not in (USER, ITEM)]
        if not relations:
            raise ValueError("EGES needs side-information node types on the graph, e.g. "
                             "graphrec.graph.side_info.add_movielens_side_info(graph, info)")
        made = corpus_from_graph(train_graph, corpus, walks_per_node, walk_length, p, q,
                                 session_gap, corpus_seed)
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, made,
                   side_fields(train_graph, relations), **kwargs)

    def __init__(self, num_users: int, num_items: int, corpus: SkipGramCorpus,
                 side_fields: Sequence[SideField], attention: bool = True,
                 id_dropout: float = 0.0, **kwargs) -> None:
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"id_dropout must lie in [0, 1) (got {id_dropout})")
        fields = list(side_fields)
        self.id_dropout = id_dropout
        self.field_names = [field.name for field in fields]
        super().__init__(num_users, num_items, corpus, **kwargs)
        self.side = nn.ModuleList(nn.Embedding(f.num_values, self.embedding_dim)
                                  for f in fields)
        for k, field in enumerate(fields):
            self.register_buffer(f"side_edges_{k}", field.edge_index.clone())
        self.conv = EGESConv(num_items, len(fields), attention=attention)
        self.reset_side()

    def reset_side(self) -> None:
        bound = 0.5 / self.embedding_dim
        for table in self.side:
            nn.init.uniform_(table.weight, -bound, bound)
        self.conv.reset_parameters()

    def side_edges(self) -> list[Tensor]:
        return [getattr(self, f"side_edges_{k}") for k in range(len(self.side))]

    def item_embeddings(self, return_attention_weights: bool = False):
        return self.conv(self.center.weight, [t.weight for t in self.side], self.side_edges(),
                         has_id=self.has_id, return_attention_weights=return_attention_weights)

    def cold_item_embeddings(self) -> Tensor:
        """Every item embedded from side information alone, as a cold item is (id left
        out, the warm items' mean attention logits): the space in which pairs with a
        cold item are scored, so both sides are embedded alike."""
        no_id = torch.zeros_like(self.has_id)
        return self.conv(self.center.weight, [t.weight for t in self.side], self.side_edges(),
                         has_id=no_id, default_from=self.has_id)

    def center_embeddings(self, items: Tensor) -> Tensor:
        # only the batch's distinct centres go through the layer
        unique, inverse = torch.unique(items, return_inverse=True)
        has_id = self.has_id
        if self.training and self.id_dropout > 0:
            # these centres are embedded like cold items: side information, default weights
            drop = torch.rand(unique.shape, device=unique.device) < self.id_dropout
            has_id = has_id.clone()
            has_id[unique[drop]] = False
        return self.conv(self.center.weight, [t.weight for t in self.side], self.side_edges(),
                         has_id=has_id, index=unique)[inverse]

    def __repr__(self) -> str:
        kind = "EGES" if self.conv.attention is not None else "GES"
        return (f"{kind}({self.num_items}, embedding_dim={self.embedding_dim}, "
                f"fields={self.field_names})")
