r"""PinSAGE: importance-sampled graph convolution over items, trained on item pairs."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import HAS_TAG, INTERACTS, ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender, check_sizes
from graphrec.models.registry import register
from graphrec.nn.conv.pinsage_conv import PinSAGEConv
from graphrec.sampling.neighborhoods import (
    ImportanceNeighborhoods,
    MultiHopSampler,
    SampledSubgraph,
)
from graphrec.sampling.walks import top_visited


def top_tags(graph: HeteroData, max_tags: int = 10) -> tuple[Tensor, Tensor, int] | None:
    """Each item's ``max_tags`` most applied tags and their L1-normalised counts, from
    ``('item', 'has_tag', 'tag')`` (``edge_weight`` = tagging count); ``None`` when the
    graph has no tags.

    Returns:
        ``(tags [I, max_tags], weights [I, max_tags], num_tags)``; padding is tag
        ``num_tags`` with weight 0.
    """
    if HAS_TAG not in graph.edge_types:
        return None
    store = graph[HAS_TAG]
    num_items, num_tags = int(graph[ITEM].num_nodes), int(graph["tag"].num_nodes)
    item, tag = store.edge_index
    count = store.get("edge_weight")
    count = torch.ones(item.numel()) if count is None else count.double()
    # sort by (item asc, count desc, tag asc): a tag's rank within its item is its column
    order = torch.sort(tag, stable=True).indices
    order = order[torch.sort(-count[order], stable=True).indices]
    order = order[torch.sort(item[order], stable=True).indices]
    item, tag, count = item[order], tag[order], count[order]
    degree = torch.bincount(item, minlength=num_items)
    rank = torch.arange(item.numel()) - (torch.cumsum(degree, 0) - degree)[item]
    keep = rank < max_tags
    tags = torch.full((num_items, max_tags), num_tags, dtype=torch.long)
    weights = torch.zeros(num_items, max_tags)
    tags[item[keep], rank[keep]] = tag[keep]
    weights[item[keep], rank[keep]] = count[keep].float()
    weights /= weights.sum(1, keepdim=True).clamp(min=1e-12)
    return tags, weights, num_tags


def tag_popularity(graph: HeteroData) -> Tensor | None:
    r"""Per item, :math:`\log(1 + c_v) / \max_{v'} \log(1 + c_{v'})` with :math:`c_v` the
    item's total tagging count in ``('item', 'has_tag', 'tag')`` (``[I, 1]``); ``None``
    without tags. Tagging is side information (who tagged an artist, not who listened), so
    items without training interactions have it too: it tells a cold item's embedding how
    much attention the item gets, which the L1-normalised tag bag of :func:`top_tags` drops.
    """
    if HAS_TAG not in graph.edge_types:
        return None
    store = graph[HAS_TAG]
    item = store.edge_index[0]
    count = store.get("edge_weight")
    count = torch.ones(item.numel()) if count is None else count.double()
    total = torch.zeros(int(graph[ITEM].num_nodes), dtype=torch.float64).index_add_(
        0, item, count)
    value = torch.log1p(total)
    return (value / value.max().clamp(min=1e-12)).float().unsqueeze(1)


class ItemInput(nn.Module):
    r"""Layer-0 item representations: projected features, optionally plus an id embedding.

    .. math::
        \mathbf{h}^{(0)}_v = \mathbf{P}\mathbf{x}_v + \sum_t \beta_{vt}\,\mathbf{e}_t
            + m_v\,\mathbf{e}_v

    with dense features :math:`\mathbf{x}_v` (e.g. MovieLens genres and year), a bag of the
    item's top tags weighted by their share :math:`\beta_{vt}` (LastFM), and an id embedding
    masked by :math:`m_v = 1` only for items with training interactions: an item that only
    has features (a cold item) is represented by its features, never by an untrained id row.
    """

    def __init__(self, num_items: int, channels: int, x: Tensor | None = None,
                 tags: tuple[Tensor, Tensor, int] | None = None,
                 use_id_embedding: bool = True) -> None:
        super().__init__()
        self.lin = None if x is None else nn.Linear(x.size(1), channels)
        self.register_buffer("x", None if x is None else x.float(), persistent=False)
        self.tag_embedding = None
        if tags is not None:
            tag_index, tag_weight, num_tags = tags
            self.tag_embedding = nn.EmbeddingBag(num_tags + 1, channels, mode="sum",
                                                 padding_idx=num_tags)
            self.register_buffer("tag_index", tag_index, persistent=False)
            self.register_buffer("tag_weight", tag_weight, persistent=False)
        self.id_embedding = nn.Embedding(num_items, channels) if use_id_embedding else None
        self.register_buffer("warm", torch.ones(num_items, 1))
        if self.lin is None and self.tag_embedding is None and self.id_embedding is None:
            raise ValueError("PinSAGE needs item features, tags or an id embedding")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.lin is not None:
            self.lin.reset_parameters()
        if self.tag_embedding is not None:
            nn.init.normal_(self.tag_embedding.weight, std=0.1)
            with torch.no_grad():
                self.tag_embedding.weight[-1].zero_()
        if self.id_embedding is not None:
            nn.init.normal_(self.id_embedding.weight, std=0.1)

    def forward(self, items: Tensor, drop_id: Tensor | None = None) -> Tensor:
        """``[len(items), d]``; ``drop_id`` (boolean, like ``items``) treats those items as
        cold: their id embedding is left out."""
        out = 0
        if self.lin is not None:
            out = out + self.lin(self.x[items])
        if self.tag_embedding is not None:
            out = out + self.tag_embedding(self.tag_index[items],
                                           per_sample_weights=self.tag_weight[items])
        if self.id_embedding is not None:
            mask = self.warm[items]
            if drop_id is not None:
                mask = mask * (~drop_id).unsqueeze(1).to(mask.dtype)
            out = out + self.id_embedding(items) * mask
        return out


@dataclass
class ItemPairBatch:
    """Query items, their positives, negatives shared by the batch, per-query hard
    negatives (``[B, k]``, ``k`` may be 0) and the sampled computation graph of all of them
    (``subgraph.target_index`` is laid out as ``[query | positive | easy | hard]``)."""

    query: Tensor
    positive: Tensor
    easy_negatives: Tensor
    hard_negatives: Tensor
    subgraph: SampledSubgraph

    def __len__(self) -> int:
        return int(self.query.numel())


@register("pinsage")
class PinSAGE(Recommender):
    r"""PinSAGE, from `"Graph Convolutional Neural Networks for Web-Scale Recommender
    Systems" <https://arxiv.org/abs/1806.01973>`_ (Ying et al., KDD 2018).

    Items are embedded by :math:`K` layers of :class:`~graphrec.nn.PinSAGEConv` over
    importance neighbourhoods (:class:`~graphrec.sampling.neighborhoods.ImportanceNeighborhoods`:
    top-:math:`T` items visited by walks with restart on the item–user–item graph) from
    layer-0 inputs :class:`ItemInput` (features, tags, optional masked id embedding).

    Training (through the one :class:`~graphrec.train.Trainer`): pairs :math:`(q, i)` of
    items engaged by the same user and the max-margin loss

    .. math::
        \mathcal{L} = \frac{1}{B}\sum_{(q, i)} \sum_{n \in \mathcal{E} \cup \mathcal{H}_q}
            \max\big(0,\ \mathbf{z}_q^\top\mathbf{z}_n - \mathbf{z}_q^\top\mathbf{z}_i
            + \Delta\big)

    (summed over negatives so the violated ones drive the gradient, averaged over pairs).

    * Pairs: the training interactions are split into ``num_folds`` seeded folds; epoch
      :math:`e` uses fold :math:`e \bmod F` as positives :math:`(u, i)` and walks on the
      graph *without* that fold, so :math:`i` never reaches :math:`q`'s neighbourhood
      through :math:`u` (no leakage); each fold is used once every :math:`F` epochs. The
      query :math:`q` is the item :math:`u` engaged with just before :math:`i` when the
      interactions have times (just after, for :math:`u`'s first item), else another item
      of :math:`u` drawn in proportion to :math:`w_{uq}^a` (``query_weight_exponent``
      :math:`a`, interaction weights such as play counts; uniform without weights or for
      :math:`a = 0`): a fresh weighted item → user → item step each epoch.
    * Easy negatives :math:`\mathcal{E}`: ``num_easy`` items shared by the batch, drawn
      from the items with training interactions with probability :math:`\propto
      \deg(v)^\beta` (``easy_negative_power`` :math:`\beta`; the default 0 is uniform, as in
      the paper; the paper's 500 per batch of 512).
    * Hard negatives :math:`\mathcal{H}_q`: items ranked :math:`r_1..r_2` by the query's
      personalised PageRank (visit counts of ``hard_walks`` walks with restart on the
      whole training graph). The paper's ranks 2000–5000 of billions of pins are "related
      but not too related"; graphrec scales them to ``hard_ranks`` = fractions of the warm
      catalogue (default 2 %–10 %, at least :math:`T + 1`), ranks counted among the items
      the walks visited. Each item keeps a pool of ``hard_pool`` such items drawn once;
      each epoch draws from it. A hard negative equal to the positive is ignored.
    * Curriculum: epoch :math:`e` uses :math:`\min(e - 1, \text{max\_hard})` hard
      negatives per query (the paper adds one per epoch); ``curriculum=False`` uses
      ``max_hard`` from the start, ``max_hard=0`` none. The batches count the epochs.

    * Cold-start dropout (graphrec's addition, after DropoutNet, `Volkovs et al., NeurIPS
      2017 <https://papers.nips.cc/paper/7081-dropoutnet>`_): in each batch every item of
      the computation graph is, with probability ``cold_dropout``, embedded as an item
      without interactions is at inference (features only: no id embedding, no
      neighbours), so feature-only items land in the same space as the others.

    Inference: every item's embedding layer by layer over the whole catalogue with the
    neighbourhoods of the full training graph (each item computed once per layer);
    item-to-item scores are exact inner products (:meth:`similar_items` can use faiss);
    a user is the mean of their training items' embeddings (:meth:`scorer`).

    Args:
        num_users, num_items: index space sizes.
        train_graph: the training graph (interactions, ``time`` when present, item ``x``,
            item tags).
        embedding_dim: embedding size :math:`d`.
        num_layers: :math:`K`.
        use_features, use_tags, use_id_embedding: layer-0 inputs.
        max_tags: tags per item in the bag.
        use_tag_popularity: with tags, add :func:`tag_popularity` (log total tagging count)
            as a dense item feature.
        num_neighbors, num_walks, walk_length, restart_prob: neighbourhoods
            (see :class:`~graphrec.sampling.neighborhoods.ImportanceNeighborhoods`).
        num_easy: shared easy negatives per batch.
        easy_negative_power: :math:`\beta` of the easy negatives' distribution
            :math:`\propto \deg(v)^\beta` over warm items (0: uniform).
        max_hard: hard negatives per query at the end of the curriculum.
        curriculum: add one hard negative per epoch.
        hard_ranks: :math:`(r_1, r_2)` as fractions of the warm catalogue,
            :math:`0 \le r_1 \le r_2 \le 1`.
        hard_walks, hard_walk_length: walks per item for the hard-negative ranking.
        hard_pool: pool of hard negatives kept per item.
        margin: :math:`\Delta`.
        objective: ``"margin"`` (the paper's max-margin loss above) or ``"softmax"``
            (graphrec's option): :math:`-\log \frac{e^{s_{qi}/\tau}}{e^{s_{qi}/\tau} +
            \sum_{n} e^{s_{qn}/\tau}}` over the same easy and hard negatives. A hinge stops
            pushing once a pair clears the margin, so how *often* two items co-occur is lost;
            the softmax keeps pulling frequent pairs together.
        temperature: :math:`\tau` of the softmax objective.
        num_folds: positive folds (see above).
        output_layer: the paper's final two dense layers after the convolutions.
        output_gate: scale each (unit-norm) output by a learned gate
            :math:`\sigma(\mathbf{a}^\top\mathbf{z} + b) \in (0, 1)` (graphrec's addition):
            inner products become :math:`\sigma_q\,\sigma_i\cos(\mathbf{z}_q,
            \mathbf{z}_i)`, so an item's score can carry how much it is engaged with (what
            Pixie's visit counts carry), bounded so that no item -- a cold one embedded from
            its features alone included -- can outscore the rest by its norm.
        normalize_output: L2-normalise the final dense layers' output (the paper does not;
            graphrec does by default so that the margin keeps its scale).
        cold_dropout: probability that an item of a training batch's computation graph is
            embedded as a cold item (see below).
        query_weight_exponent: :math:`a`; without times, the query of a positive
            :math:`(u, i)` is another item :math:`q` of :math:`u` drawn with probability
            :math:`\propto w_{uq}^a` (interaction weights, e.g. play counts); 0 draws it
            uniformly. Default 1: in proportion to play counts, like the evaluation's
            query (a user's most played artist) is biased to heavily played items.
        seed: seeds folds, walks and pair sampling.
    """

    # docs/pinsage.md: an epoch is one of 5 positive folds, so 100 epochs see every training
    # interaction 20 times as a positive; patience 20 (4 passes) because item-to-item
    # validation on ~1k queries is noisy
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 5e-3, "batch_size": 512, "epochs": 100, "eval_every": 1, "patience": 20}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        train_graph: HeteroData,
        embedding_dim: int = 64,
        num_layers: int = 2,
        use_features: bool = True,
        use_tags: bool = True,
        use_tag_popularity: bool = True,
        use_id_embedding: bool = True,
        max_tags: int = 10,
        num_neighbors: int | None = None,
        num_walks: int = 256,
        walk_length: int = 6,
        restart_prob: float = 0.5,
        num_easy: int = 500,
        easy_negative_power: float = 0.0,
        max_hard: int = 6,
        curriculum: bool = True,
        hard_ranks: tuple[float, float] = (0.02, 0.10),
        hard_walks: int = 256,
        hard_walk_length: int = 8,
        hard_pool: int = 32,
        margin: float = 0.1,
        objective: str = "margin",
        temperature: float = 0.1,
        num_folds: int = 5,
        cold_dropout: float = 0.3,
        query_weight_exponent: float = 1.0,
        output_layer: bool = False,
        normalize_output: bool = True,
        output_gate: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        for name, value, low in (
                ("embedding_dim", embedding_dim, 1), ("num_layers", num_layers, 1),
                ("max_tags", max_tags, 1), ("num_walks", num_walks, 1),
                ("walk_length", walk_length, 1), ("num_easy", num_easy, 1),
                ("max_hard", max_hard, 0), ("hard_walks", hard_walks, 1),
                ("hard_walk_length", hard_walk_length, 1), ("hard_pool", hard_pool, 1),
                ("num_folds", num_folds, 1)):
            check_number(name, value, integer=True, low=low)
        check_number("num_neighbors", num_neighbors, integer=True, low=1, none_ok=True)
        for name, value in (("restart_prob", restart_prob), ("cold_dropout", cold_dropout)):
            check_number(name, value, low=0, high=1, high_open=True)
        check_number("margin", margin, low=0)
        check_number("easy_negative_power", easy_negative_power)
        check_number("query_weight_exponent", query_weight_exponent, low=0)
        if len(hard_ranks) != 2:
            raise ValueError(f"hard_ranks must be a pair (r1, r2) (got {hard_ranks!r})")
        low_rank = check_number("hard_ranks[0]", hard_ranks[0], low=0, high=1)
        check_number("hard_ranks[1]", hard_ranks[1], low=low_rank, high=1)
        store = train_graph[INTERACTS]
        self.interactions = Interactions.from_graph(train_graph)
        # times aligned with the sorted (user, item) pairs of ``self.interactions``
        self.train_time = None
        if "time" in store:
            keys = store.edge_index[0] * num_items + store.edge_index[1]
            pos = torch.searchsorted(self.interactions.keys, keys)
            self.train_time = torch.zeros(self.interactions.num_interactions,
                                          dtype=torch.float64)
            self.train_time[pos] = store.time.double()
        x = train_graph[ITEM].get("x") if use_features else None
        tags = top_tags(train_graph, max_tags) if use_tags else None
        if use_tags and use_tag_popularity:
            popularity = tag_popularity(train_graph)
            if popularity is not None:
                x = popularity if x is None else torch.cat([x.float(), popularity], 1)
        self.input = ItemInput(num_items, embedding_dim, x, tags, use_id_embedding)
        self.convs = nn.ModuleList(PinSAGEConv(embedding_dim, embedding_dim)
                                   for _ in range(num_layers))
        self.embedding_dim, self.num_layers = embedding_dim, num_layers
        self.normalize_output = normalize_output
        self.output = (nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.ReLU(),
                                     nn.Linear(embedding_dim, embedding_dim))
                       if output_layer else None)
        self.gate = nn.Linear(embedding_dim, 1) if output_gate else None
        self.walk_settings = {"num_neighbors": num_neighbors, "num_walks": num_walks,
                              "walk_length": walk_length, "restart_prob": restart_prob,
                              "seed": seed}
        self.num_easy, self.max_hard, self.curriculum = num_easy, max_hard, curriculum
        self.easy_negative_power = float(easy_negative_power)
        self.hard_ranks, self.hard_walks = hard_ranks, hard_walks
        self.hard_walk_length, self.hard_pool = hard_walk_length, hard_pool
        if objective not in ("margin", "softmax"):
            raise ValueError(f"objective must be 'margin' or 'softmax' (got {objective!r})")
        self.objective = objective
        self.temperature = check_number("temperature", temperature, low=0, low_open=True)
        self.margin, self.num_folds, self.seed = margin, num_folds, seed
        self.cold_dropout = cold_dropout
        self.query_weight_exponent = float(query_weight_exponent)
        self.register_buffer("hard_negatives", torch.empty(0, 0, dtype=torch.long),
                             persistent=False)
        self.full_sampler: MultiHopSampler | None = None

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> PinSAGE:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, train_graph,
                   **kwargs)

    def reset_parameters(self) -> None:
        self.input.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        if self.output is not None:
            for layer in self.output:
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
        if self.gate is not None:
            self.gate.reset_parameters()

    def head(self, h: Tensor) -> Tensor:
        r"""The paper's final dense layers :math:`\mathbf{G}_2\,\mathrm{ReLU}(\mathbf{G}_1
        \mathbf{z} + \mathbf{g})` (when ``output_layer``), L2-normalised when
        ``normalize_output``; then scaled by the gate :math:`\sigma(\mathbf{a}^\top
        \mathbf{z} + b)` when ``output_gate``."""
        if self.output is not None:
            h = self.output(h)
            if self.normalize_output:
                h = F.normalize(h, p=2.0, dim=-1, eps=1e-12)
        if self.gate is not None:
            h = h * torch.sigmoid(self.gate(h))
        return h

    # ------------------------------------------------------------------ closed-form part
    def fit(self, train: Interactions) -> None:
        """Builds the inference neighbourhoods, the warm-item mask and the hard-negative
        pools from the training interactions (``train`` must be the graph's)."""
        if train.num_interactions != self.interactions.num_interactions:
            raise ValueError("fit() got other interactions than the training graph's")
        device = self.device
        self.interactions = self.interactions.to(device)
        warm = (self.interactions.item_degree() > 0).float().unsqueeze(1)
        self.input.warm.copy_(warm)
        neighborhoods = ImportanceNeighborhoods.from_interactions(
            self.interactions, **self.walk_settings).to(device)
        self.full_sampler = MultiHopSampler(neighborhoods, self.num_layers)
        self.hard_negatives = self._hard_negative_pools(neighborhoods)

    def get_extra_state(self) -> dict[str, Tensor]:
        """What :meth:`fit` computed by random walks: the inference neighbourhood table and
        the hard-negative pools (``{}`` before ``fit``). Walks differ between devices, so a
        saved model keeps them rather than walking again."""
        if self.full_sampler is None:
            return {}
        neighbors, weights = self.full_sampler.neighborhoods.table()
        return {"neighbors": neighbors, "weights": weights,
                "hard_negatives": self.hard_negatives}

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        if not state:
            self.full_sampler = None
            return
        device = self.device
        self.interactions = self.interactions.to(device)
        neighborhoods = ImportanceNeighborhoods.from_interactions(
            self.interactions, **self.walk_settings).to(device)
        neighborhoods.set_table(state["neighbors"], state["weights"])
        self.full_sampler = MultiHopSampler(neighborhoods, self.num_layers)
        self.hard_negatives = state["hard_negatives"].to(device)

    def _hard_negative_pools(self, neighborhoods: ImportanceNeighborhoods) -> Tensor:
        """``[num_items, hard_pool]`` items of PPR ranks ``r1..r2`` per item (random warm
        items where the walks visited fewer than ``r1`` items)."""
        device = self.device
        warm_items = (self.interactions.item_degree() > 0).nonzero().view(-1)
        num_warm = max(int(warm_items.numel()), 1)
        r1 = max(int(math.ceil(self.hard_ranks[0] * num_warm)), neighborhoods.num_neighbors + 1)
        r2 = max(int(math.ceil(self.hard_ranks[1] * num_warm)), r1)
        generator = torch.Generator(device=device).manual_seed(self.seed + 1)
        pools = []
        for start in range(0, self.num_items, 512):
            items = torch.arange(start, min(start + 512, self.num_items), device=device)
            counts = neighborhoods.item_visits(items, generator, num_walks=self.hard_walks,
                                               walk_length=self.hard_walk_length)
            ranked, _ = top_visited(counts, r2)
            band = ranked[:, r1 - 1:]
            available = (band >= 0).sum(1)
            pick = (torch.rand(items.numel(), self.hard_pool, generator=generator,
                               device=device) * available.unsqueeze(1)).long()
            pool = band.gather(1, pick.clamp(max=band.size(1) - 1))
            fallback = warm_items[torch.randint(num_warm, pool.shape, generator=generator,
                                                device=device)]
            pools.append(torch.where(available.unsqueeze(1) > 0, pool, fallback))
        return torch.cat(pools)

    # --------------------------------------------------------------------- embeddings
    def embed_subgraph(self, subgraph: SampledSubgraph, cold: Tensor | None = None) -> Tensor:
        """Embeddings ``[num_targets, d]`` of a sampled computation graph's targets.

        ``cold`` (boolean over ``subgraph.nodes``) embeds those items as an item without
        interactions is embedded at inference: no id embedding, no edges to or from them
        (the remaining weights of a target are renormalised to sum to 1)."""
        h = self.input(subgraph.nodes, cold)
        for conv, hop in zip(self.convs, subgraph.hops, strict=True):
            edge_index, edge_weight = hop.edge_index, hop.edge_weight
            if cold is not None:
                keep = ~(cold[edge_index[0]] | cold[edge_index[1]])
                edge_index, edge_weight = edge_index[:, keep], edge_weight[keep]
                total = torch.zeros(hop.num_dst, dtype=edge_weight.dtype,
                                    device=edge_weight.device).index_add_(
                                        0, edge_index[1], edge_weight)
                edge_weight = edge_weight / total[edge_index[1]].clamp(min=1e-12)
            h = conv((h[:hop.num_src], h[:hop.num_dst]), edge_index, edge_weight)
        return self.head(h)

    def forward(self) -> Tensor:
        """All item embeddings ``[num_items, d]``, layer by layer over the catalogue with
        the full training graph's neighbourhoods (each item once per layer)."""
        if self.full_sampler is None:
            raise RuntimeError("call fit(train) first (the Trainer does)")
        hop = self.full_sampler.full_graph()
        h = self.input(torch.arange(self.num_items, device=self.device))
        for conv in self.convs:
            h = conv(h, hop.edge_index, hop.edge_weight)
        return self.head(h)

    @torch.no_grad()
    def item_embeddings(self) -> Tensor:
        """:meth:`forward` without gradients (scorers call it once and share it)."""
        return self()

    # ------------------------------------------------------------------------ training
    def train_batches(self, train: Interactions, batch_size: int,
                      device: torch.device | str, seed: int) -> ItemPairBatches:
        return ItemPairBatches(self, batch_size, seed)

    def loss(self, batch: ItemPairBatch) -> Tensor:
        cold = None
        if self.cold_dropout > 0:
            nodes = batch.subgraph.nodes
            cold = torch.rand(nodes.shape, device=nodes.device) < self.cold_dropout
        z = self.embed_subgraph(batch.subgraph, cold)[batch.subgraph.target_index]
        size, num_easy = len(batch), batch.easy_negatives.numel()
        query, positive = z[:size], z[size:2 * size]
        easy = z[2 * size:2 * size + num_easy]
        hard = z[2 * size + num_easy:].view(size, batch.hard_negatives.size(1), z.size(1))
        pos_score = (query * positive).sum(-1, keepdim=True)
        easy_score = query @ easy.t()
        hard_score = (query.unsqueeze(1) * hard).sum(-1)
        valid = batch.hard_negatives != batch.positive.unsqueeze(1)
        if self.objective == "softmax":
            # a negative equal to the positive is no negative: left out of the partition
            easy_score = easy_score.masked_fill(
                batch.easy_negatives.unsqueeze(0) == batch.positive.unsqueeze(1), float("-inf"))
            logits = torch.cat([pos_score, easy_score,
                                hard_score.masked_fill(~valid, float("-inf"))], 1)
            return -torch.log_softmax(logits / self.temperature, dim=1)[:, 0].mean()
        loss = F.relu(easy_score - pos_score + self.margin).sum(1)
        if hard.size(1):
            hinge = F.relu(hard_score - pos_score + self.margin)
            loss = loss + (hinge * valid).sum(1)
        return loss.mean()

    # ------------------------------------------------------------------------ inference
    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        z = self.item_embeddings()
        z_t = z.t().contiguous()
        return lambda items: z[items.to(z.device)] @ z_t

    def user_embeddings(self, item_embeddings: Tensor | None = None) -> Tensor:
        """``[num_users, d]``: the mean of each user's training items' embeddings (zero for
        users without training items)."""
        z = self.item_embeddings() if item_embeddings is None else item_embeddings
        train = self.interactions.to(z.device)
        sums = torch.zeros(self.num_users, z.size(1), device=z.device, dtype=z.dtype)
        sums.index_add_(0, train.users, z[train.indices])
        return sums / train.user_degree().clamp(min=1).unsqueeze(1).to(z.dtype)

    def scorer(self) -> Callable[[Tensor], Tensor]:
        z = self.item_embeddings()
        users_z, z_t = self.user_embeddings(z), z.t().contiguous()
        return lambda users: users_z[users.to(z_t.device)] @ z_t

    def score_histories(self, histories: Interactions) -> Tensor:
        """A new user is what a trained one is: the mean of their items' embeddings."""
        z = self.item_embeddings()
        histories = histories.to(z.device)
        sums = torch.zeros(histories.num_users, z.size(1), device=z.device, dtype=z.dtype)
        sums.index_add_(0, histories.users, z[histories.indices])
        profile = sums / histories.user_degree().clamp(min=1).unsqueeze(1).to(z.dtype)
        return profile @ z.t()

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """``(user_embeddings(), item_embeddings())``: the scores are their inner
        products."""
        z = self.item_embeddings()
        return self.user_embeddings(z), z

    @torch.no_grad()
    def similar_items(self, items: Tensor, k: int = 10, backend: str = "torch"
                      ) -> tuple[Tensor, Tensor]:
        """Top-``k`` items by inner product with each query item, the query excluded.

        ``backend="torch"`` is exact on the embeddings' device; ``"faiss"`` uses an exact
        inner-product index (``pip install graphrec[faiss]``) for large catalogues.
        """
        was_training = self.training
        self.eval()
        try:
            z = self.item_embeddings()
            items = torch.as_tensor(items, dtype=torch.long, device=z.device).view(-1)
            if backend == "faiss":
                try:
                    import faiss
                except ImportError:
                    raise ImportError("backend='faiss' needs faiss: pip install "
                                      "graphrec[faiss]") from None
                index = faiss.IndexFlatIP(z.size(1))
                index.add(z.float().cpu().numpy())
                scores, found = index.search(z[items].float().cpu().numpy(), k + 1)
                scores, found = torch.from_numpy(scores), torch.from_numpy(found)
                keep = found != items.cpu().unsqueeze(1)
                order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices[:, :k]
                return found.gather(1, order).to(z.device), scores.gather(1, order).to(z.device)
            if backend != "torch":
                raise ValueError(f"backend must be 'torch' or 'faiss' (got {backend!r})")
            scores = z[items] @ z.t()
            scores[torch.arange(items.numel(), device=z.device), items] = float("-inf")
            values, found = torch.topk(scores, min(k, self.num_items - 1), dim=1)
            return found, values
        finally:
            self.train(was_training)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, num_layers={self.num_layers}, "
                f"max_hard={self.max_hard}, curriculum={self.curriculum})")


class ItemPairBatches:
    """One epoch of :class:`ItemPairBatch` for :class:`PinSAGE` (see its docstring for the
    folds, pairs and negatives). Iterating it again starts the next epoch: the epoch count
    drives the fold and the hard-negative curriculum, so the trainer needs no hook."""

    def __init__(self, model: PinSAGE, batch_size: int, seed: int) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = model.device
        train = model.interactions.to(self.device)
        self.interactions = train
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        folds = torch.Generator().manual_seed(model.seed + 2)
        self.fold = torch.randint(model.num_folds, (train.num_interactions,),
                                  generator=folds).to(self.device)
        self.warm_items = (train.item_degree() > 0).nonzero().view(-1)
        self.easy_weights = None  # deg^beta over warm_items (None: uniform)
        if model.easy_negative_power != 0:
            self.easy_weights = (train.item_degree()[self.warm_items].double()
                                 ** model.easy_negative_power)
        self.query_weights = None
        if (model.query_weight_exponent > 0 and model.train_time is None
                and train.edge_weight is not None):
            self.query_weights = train.edge_weight.double().clamp(min=0) ** (
                model.query_weight_exponent)
        self.partner = None if model.train_time is None else self._consecutive(
            model.train_time.to(self.device))
        self.samplers: dict[int, MultiHopSampler] = {}
        self.epoch = 0

    def _consecutive(self, time: Tensor) -> Tensor:
        """Per training edge, the item its user engaged with just before (just after for
        the user's first; ``-1`` for a user with a single item)."""
        train = self.interactions
        order = torch.sort(time, stable=True).indices
        order = order[torch.sort(train.users[order], stable=True).indices]
        users, items = train.users[order], train.indices[order]
        same_prev = torch.zeros_like(users, dtype=torch.bool)
        same_prev[1:] = users[1:] == users[:-1]
        same_next = torch.zeros_like(users, dtype=torch.bool)
        same_next[:-1] = users[:-1] == users[1:]
        prev_item = torch.cat([items.new_full((1,), -1), items[:-1]])
        next_item = torch.cat([items[1:], items.new_full((1,), -1)])
        partner_sorted = torch.where(same_prev, prev_item, torch.where(same_next, next_item, -1))
        partner = torch.empty_like(partner_sorted)
        partner[order] = partner_sorted
        return partner

    def _random_partner(self, edges: Tensor) -> Tensor:
        r"""A uniformly drawn other item of each edge's user (``-1`` if it has none); with
        ``query_weight_exponent`` :math:`a > 0` and interaction weights, drawn with
        probability :math:`\propto w^a` among the user's other items instead."""
        train = self.interactions
        if self.query_weights is not None:
            return self._weighted_partner(edges)
        users = train.users[edges]
        start, degree = train.indptr[users], train.user_degree()[users]
        own = edges - start
        offset = (torch.rand(edges.numel(), generator=self.generator, device=self.device)
                  * (degree - 1).clamp(min=0)).long()
        offset = offset + (offset >= own).long()
        return torch.where(degree > 1, train.indices[(start + offset).clamp(
            max=train.num_interactions - 1)], -1)

    def _weighted_partner(self, edges: Tensor) -> Tensor:
        r"""Another item of each edge's user, drawn :math:`\propto` ``query_weights`` (the
        edge itself excluded by skipping its own weight mass; ``-1`` when the user's other
        items weigh 0)."""
        train, weight = self.interactions, self.query_weights
        cum = torch.cat([weight.new_zeros(1), torch.cumsum(weight, 0)])  # cum[k] = Σ w[:k]
        users = train.users[edges]
        start, end = train.indptr[users], train.indptr[users + 1]
        own = weight[edges]
        total = cum[end] - cum[start] - own
        draw = torch.rand(edges.numel(), generator=self.generator, device=self.device,
                          dtype=weight.dtype) * total
        draw = torch.where(draw >= cum[edges] - cum[start], draw + own, draw)
        # the first edge k of the user whose cumulative weight cum[k + 1] exceeds the draw
        pick = torch.searchsorted(cum[1:], cum[start] + draw, right=True)
        pick = torch.minimum(torch.maximum(pick, start), (end - 1).clamp(min=0))
        ok = (total > 0) & (pick != edges)
        return torch.where(ok, train.indices[pick.clamp(max=train.num_interactions - 1)], -1)

    def _easy_draw(self, count: int) -> Tensor:
        r"""Positions in ``warm_items``: uniform, or :math:`\propto \deg^\beta` (with
        replacement, like the uniform draw)."""
        if self.easy_weights is None:
            return torch.randint(self.warm_items.numel(), (count,), generator=self.generator,
                                 device=self.device)
        return torch.multinomial(self.easy_weights, count, replacement=True,
                                 generator=self.generator)

    def sampler(self, fold: int) -> MultiHopSampler:
        if fold not in self.samplers:
            positives = self.interactions.edge_index[:, self.fold == fold]
            neighborhoods = ImportanceNeighborhoods.from_interactions(
                self.interactions, exclude=positives,
                **self.model.walk_settings).to(self.device)
            self.samplers[fold] = MultiHopSampler(neighborhoods, self.model.num_layers)
        return self.samplers[fold]

    def num_hard(self) -> int:
        model = self.model
        return min(self.epoch - 1, model.max_hard) if model.curriculum else model.max_hard

    def __len__(self) -> int:
        return -(-self.interactions.num_interactions // (self.model.num_folds * self.batch_size))

    def __iter__(self) -> Iterator[ItemPairBatch]:
        self.epoch += 1
        model, train, generator = self.model, self.interactions, self.generator
        fold = (self.epoch - 1) % model.num_folds
        edges = (self.fold == fold).nonzero().view(-1)
        partner = (self._random_partner(edges) if self.partner is None
                   else self.partner[edges])
        keep = partner >= 0
        positive, query = train.indices[edges[keep]], partner[keep]
        order = torch.randperm(query.numel(), generator=generator, device=self.device)
        query, positive = query[order], positive[order]
        sampler, num_hard = self.sampler(fold), self.num_hard()
        num_easy = min(model.num_easy, self.warm_items.numel())
        for start in range(0, query.numel(), self.batch_size):
            q, p = query[start:start + self.batch_size], positive[start:start + self.batch_size]
            easy = self.warm_items[self._easy_draw(num_easy)]
            pick = torch.randint(model.hard_pool, (q.numel(), num_hard), generator=generator,
                                 device=self.device)
            hard = model.hard_negatives[q.unsqueeze(1), pick]
            subgraph = sampler.sample(torch.cat([q, p, easy, hard.reshape(-1)]))
            yield ItemPairBatch(q, p, easy, hard, subgraph)
