r"""PinSAGE: importance-sampled graph convolution over items, trained on item pairs.

The model's settings come in typed groups (frozen dataclasses, each field checked when the
group is made): :class:`PinSAGEInputs` (layer-0 inputs), :class:`NeighborhoodSettings`
(importance neighbourhoods), :class:`NegativeSettings` (easy and hard negatives, the
curriculum), :class:`ObjectiveSettings` (loss) and :class:`OutputSettings` (final dense
layers, normalisation, gate). A configuration file or ``--set`` gives a group as a table of
some of its fields (``hyperparameters.negatives.max_hard = 0``); in Python pass the
dataclass (``PinSAGE.from_graph(graph, negatives=NegativeSettings(max_hard=0))``) or a dict
of fields to :func:`~graphrec.models.build_model`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER
from graphrec.graph.checks import check_group, check_number, shown
from graphrec.graph.interactions import Interactions
from graphrec.graph.item_features import item_input_features, tag_popularity, top_tags
from graphrec.models.base import Recommender, check_sizes
from graphrec.models.registry import register
from graphrec.nn.conv.pinsage_conv import PinSAGEConv
from graphrec.nn.item_input import ItemInput
from graphrec.sampling.item_pairs import ItemPairBatch, ItemPairBatches
from graphrec.sampling.neighborhoods import (
    ImportanceNeighborhoods,
    MultiHopSampler,
    SampledSubgraph,
)
from graphrec.sampling.walks import top_visited

# re-exported: their homes are graphrec.graph.item_features, graphrec.nn.item_input and
# graphrec.sampling.item_pairs
__all__ = ["ItemInput", "ItemPairBatch", "ItemPairBatches", "NegativeSettings",
           "NeighborhoodSettings", "ObjectiveSettings", "OutputSettings", "PinSAGE",
           "PinSAGEInputs", "tag_popularity", "top_tags"]


# --------------------------------------------------------------------------- settings
def _set(group: Any, name: str, value: Any) -> None:
    """Stores a checked (normalised) value in a frozen group."""
    object.__setattr__(group, name, value)


def _check_flags(group: Any, *names: str) -> None:
    for name in names:
        value = getattr(group, name)
        if not isinstance(value, bool):
            raise ValueError(f"{type(group).__name__}.{name} must be True or False "
                             f"(got {shown(value)})")



@dataclass(frozen=True)
class PinSAGEInputs:
    """Layer-0 item inputs (:class:`~graphrec.nn.ItemInput`, made by
    :func:`~graphrec.graph.item_features.item_input_features`)."""

    use_features: bool = True
    """Project the item store's dense features ``x`` (e.g. MovieLens genres and year)."""
    use_tags: bool = True
    """Add the weighted bag of each item's top tags (``('item', 'has_tag', 'tag')``)."""
    use_tag_popularity: bool = True
    """With tags, append :func:`~graphrec.graph.item_features.tag_popularity` (log total
    tagging count) to the dense features."""
    use_id_embedding: bool = True
    """Add an id embedding, used only by items with training interactions."""
    max_tags: int = 10
    """Tags per item in the bag (at least 1)."""

    def __post_init__(self) -> None:
        _check_flags(self, "use_features", "use_tags", "use_tag_popularity",
                     "use_id_embedding")
        _set(self, "max_tags", check_number("PinSAGEInputs.max_tags", self.max_tags,
                                            integer=True, low=1))


@dataclass(frozen=True)
class NeighborhoodSettings:
    """Importance neighbourhoods: the top-:math:`T` items visited by walks with restart on
    the item–user–item graph
    (:class:`~graphrec.sampling.neighborhoods.ImportanceNeighborhoods`)."""

    num_neighbors: int | None = None
    r""":math:`T`, neighbours kept per item (at least 1; ``None``: the sampler's default,
    scaled to the catalogue)."""
    num_walks: int = 256
    """Walks per item (at least 1)."""
    walk_length: int = 6
    """Item–user–item steps per walk (at least 1)."""
    restart_prob: float = 0.5
    """Probability of returning to the start item at each step, in [0, 1)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        _set(self, "num_neighbors", check_number(f"{name}.num_neighbors", self.num_neighbors,
                                                 integer=True, low=1, none_ok=True))
        for field in ("num_walks", "walk_length"):
            _set(self, field, check_number(f"{name}.{field}", getattr(self, field),
                                           integer=True, low=1))
        _set(self, "restart_prob", check_number(f"{name}.restart_prob", self.restart_prob,
                                                low=0, high=1, high_open=True))


@dataclass(frozen=True)
class NegativeSettings:
    r"""Easy and hard negatives (see :class:`PinSAGE`) and the hard-negative curriculum."""

    num_easy: int = 500
    """Easy negatives shared by a batch (at least 1; the paper's 500 per batch of 512)."""
    easy_negative_power: float = 0.0
    r""":math:`\beta` of the easy negatives' distribution :math:`\propto \deg(v)^\beta` over
    the items with training interactions (0: uniform, as in the paper)."""
    max_hard: int = 6
    """Hard negatives per query at the end of the curriculum (0: none)."""
    curriculum: bool = True
    """Add one hard negative per epoch (``False``: ``max_hard`` from the start)."""
    hard_ranks: tuple[float, float] = (0.02, 0.10)
    r""":math:`(r_1, r_2)`: the band of personalised-PageRank ranks hard negatives come
    from, as fractions of the warm catalogue, :math:`0 \le r_1 \le r_2 \le 1`."""
    hard_walks: int = 256
    """Walks per item for the hard-negative ranking (at least 1)."""
    hard_walk_length: int = 8
    """Steps per walk of the hard-negative ranking (at least 1)."""
    hard_pool: int = 32
    """Hard negatives kept per item, drawn once in ``fit`` (at least 1)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        for field, low in (("num_easy", 1), ("max_hard", 0), ("hard_walks", 1),
                           ("hard_walk_length", 1), ("hard_pool", 1)):
            _set(self, field, check_number(f"{name}.{field}", getattr(self, field),
                                           integer=True, low=low))
        _set(self, "easy_negative_power", check_number(f"{name}.easy_negative_power",
                                                       self.easy_negative_power))
        _check_flags(self, "curriculum")
        ranks = self.hard_ranks
        if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
            raise ValueError(f"{name}.hard_ranks must be a pair (r1, r2) (got {shown(ranks)})")
        low_rank = check_number(f"{name}.hard_ranks[0]", ranks[0], low=0, high=1)
        high_rank = check_number(f"{name}.hard_ranks[1]", ranks[1], low=low_rank, high=1)
        _set(self, "hard_ranks", (low_rank, high_rank))


@dataclass(frozen=True)
class ObjectiveSettings:
    r"""The training loss over a query :math:`q`, its positive :math:`i` and its negatives
    (see :class:`PinSAGE`)."""

    kind: str = "margin"
    r"""``"margin"`` (the paper's max-margin loss) or ``"softmax"`` (graphrec's option:
    :math:`-\log \frac{e^{s_{qi}/\tau}}{e^{s_{qi}/\tau} + \sum_{n} e^{s_{qn}/\tau}}` over the
    same negatives). A hinge stops pushing once a pair clears the margin, so how *often* two
    items co-occur is lost; the softmax keeps pulling frequent pairs together."""
    margin: float = 0.1
    r""":math:`\Delta` of the max-margin loss (at least 0)."""
    temperature: float = 0.1
    r""":math:`\tau` of the softmax objective (greater than 0)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.kind not in ("margin", "softmax"):
            raise ValueError(f"{name}.kind (the objective) must be 'margin' or 'softmax' "
                             f"(got {shown(self.kind)})")
        _set(self, "margin", check_number(f"{name}.margin", self.margin, low=0))
        _set(self, "temperature", check_number(f"{name}.temperature", self.temperature,
                                               low=0, low_open=True))


@dataclass(frozen=True)
class OutputSettings:
    """What follows the convolutions (:meth:`PinSAGE.head`)."""

    dense_layers: bool = False
    r"""The paper's final two dense layers
    :math:`\mathbf{G}_2\,\mathrm{ReLU}(\mathbf{G}_1 \mathbf{z} + \mathbf{g})`."""
    normalize: bool = True
    """L2-normalise the dense layers' output (the paper does not; graphrec does by default
    so that the margin keeps its scale). Without dense layers the last convolution's output
    has unit norm already."""
    gate: bool = False
    r"""Scale each (unit-norm) output by a learned gate :math:`\sigma(\mathbf{a}^\top
    \mathbf{z} + b) \in (0, 1)` (graphrec's addition): inner products become
    :math:`\sigma_q\,\sigma_i\cos(\mathbf{z}_q, \mathbf{z}_i)`, so an item's score can carry
    how much it is engaged with (what Pixie's visit counts carry), bounded so that no item
    -- a cold one embedded from its features alone included -- can outscore the rest by its
    norm."""

    def __post_init__(self) -> None:
        _check_flags(self, "dense_layers", "normalize", "gate")


@register("pinsage")
class PinSAGE(Recommender):
    r"""PinSAGE, from `"Graph Convolutional Neural Networks for Web-Scale Recommender
    Systems" <https://arxiv.org/abs/1806.01973>`_ (Ying et al., KDD 2018).

    Items are embedded by :math:`K` layers of :class:`~graphrec.nn.PinSAGEConv` over
    importance neighbourhoods (:class:`~graphrec.sampling.neighborhoods.ImportanceNeighborhoods`:
    top-:math:`T` items visited by walks with restart on the item–user–item graph) from
    layer-0 inputs :class:`~graphrec.nn.ItemInput` (features, tags, optional masked id
    embedding).

    Training (through the one :class:`~graphrec.train.Trainer`): pairs :math:`(q, i)` of
    items engaged by the same user and the max-margin loss

    .. math::
        \mathcal{L} = \frac{1}{B}\sum_{(q, i)} \sum_{n \in \mathcal{E} \cup \mathcal{H}_q}
            \max\big(0,\ \mathbf{z}_q^\top\mathbf{z}_n - \mathbf{z}_q^\top\mathbf{z}_i
            + \Delta\big)

    (summed over negatives so the violated ones drive the gradient, averaged over pairs).

    Pairs and negatives are drawn by
    :class:`~graphrec.sampling.item_pairs.ItemPairBatches`:

    * Pairs: the training interactions are split into ``num_folds`` seeded folds; epoch
      :math:`e` uses fold :math:`e \bmod F` as positives :math:`(u, i)` and walks on the
      graph *without* that fold, so :math:`i` never reaches :math:`q`'s neighbourhood
      through :math:`u` (no leakage); each fold is used once every :math:`F` epochs. The
      query :math:`q` is the item :math:`u` engaged with just before :math:`i` when the
      interactions have times (just after, for :math:`u`'s first item), else another item
      of :math:`u` drawn in proportion to :math:`w_{uq}^a` (``query_weight_exponent``
      :math:`a`, interaction weights such as play counts; uniform without weights or for
      :math:`a = 0`): a fresh weighted item → user → item step each epoch.
    * Easy negatives :math:`\mathcal{E}`: ``negatives.num_easy`` items shared by the
      batch, drawn from the items with training interactions with probability
      :math:`\propto \deg(v)^\beta` (``negatives.easy_negative_power`` :math:`\beta`; the
      default 0 is uniform, as in the paper; the paper's 500 per batch of 512).
    * Hard negatives :math:`\mathcal{H}_q`: items ranked :math:`r_1..r_2` by the query's
      personalised PageRank (visit counts of ``negatives.hard_walks`` walks with restart
      on the whole training graph). The paper's ranks 2000–5000 of billions of pins are
      "related but not too related"; graphrec scales them to ``negatives.hard_ranks`` =
      fractions of the warm catalogue (default 2 %–10 %, at least :math:`T + 1`), ranks
      counted among the items the walks visited. Each item keeps a pool of
      ``negatives.hard_pool`` such items drawn once; each epoch draws from it. A hard
      negative equal to the positive is ignored.
    * Curriculum: epoch :math:`e` uses :math:`\min(e - 1, \text{max\_hard})` hard
      negatives per query (the paper adds one per epoch); ``curriculum=False`` uses
      ``max_hard`` from the start, ``max_hard=0`` none (both fields of ``negatives``). The
      batches count the epochs.

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
        inputs: layer-0 inputs (:class:`PinSAGEInputs`: features, tags, tag popularity, id
            embedding, tags per item).
        neighborhoods: importance neighbourhoods (:class:`NeighborhoodSettings`).
        negatives: easy and hard negatives and the curriculum (:class:`NegativeSettings`).
        objective: the loss (:class:`ObjectiveSettings`: ``"margin"`` or ``"softmax"``,
            :math:`\Delta`, :math:`\tau`).
        output: final dense layers, their normalisation and the output gate
            (:class:`OutputSettings`; kept as ``output_settings``, since ``output`` is the
            dense layers' module).
        num_folds: positive folds (see above).
        cold_dropout: probability that an item of a training batch's computation graph is
            embedded as a cold item (see above).
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
        inputs: PinSAGEInputs = PinSAGEInputs(),
        neighborhoods: NeighborhoodSettings = NeighborhoodSettings(),
        negatives: NegativeSettings = NegativeSettings(),
        objective: ObjectiveSettings = ObjectiveSettings(),
        output: OutputSettings = OutputSettings(),
        num_folds: int = 5,
        cold_dropout: float = 0.3,
        query_weight_exponent: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        for name, value in (("embedding_dim", embedding_dim), ("num_layers", num_layers),
                            ("num_folds", num_folds)):
            check_number(name, value, integer=True, low=1)
        check_number("cold_dropout", cold_dropout, low=0, high=1, high_open=True)
        check_number("query_weight_exponent", query_weight_exponent, low=0)
        self.inputs = check_group("inputs", inputs, PinSAGEInputs)
        self.neighborhoods = check_group("neighborhoods", neighborhoods, NeighborhoodSettings)
        self.negatives = check_group("negatives", negatives, NegativeSettings)
        self.objective = check_group("objective", objective, ObjectiveSettings)
        self.output_settings = check_group("output", output, OutputSettings)
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
        x, tags = item_input_features(train_graph, inputs.use_features, inputs.use_tags,
                                      inputs.use_tag_popularity, inputs.max_tags)
        self.input = ItemInput(num_items, embedding_dim, x, tags, inputs.use_id_embedding)
        self.convs = nn.ModuleList(PinSAGEConv(embedding_dim, embedding_dim)
                                   for _ in range(num_layers))
        self.embedding_dim, self.num_layers = embedding_dim, num_layers
        # ``output`` (the dense layers) and ``gate`` keep their names: saved weights use them
        self.output = (nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.ReLU(),
                                     nn.Linear(embedding_dim, embedding_dim))
                       if output.dense_layers else None)
        self.gate = nn.Linear(embedding_dim, 1) if output.gate else None
        self.walk_settings = {"num_neighbors": neighborhoods.num_neighbors,
                              "num_walks": neighborhoods.num_walks,
                              "walk_length": neighborhoods.walk_length,
                              "restart_prob": neighborhoods.restart_prob, "seed": seed}
        self.num_folds, self.seed = num_folds, seed
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
        \mathbf{z} + \mathbf{g})` (``output.dense_layers``), L2-normalised when
        ``output.normalize``; then scaled by the gate :math:`\sigma(\mathbf{a}^\top
        \mathbf{z} + b)` (``output.gate``)."""
        if self.output is not None:
            h = self.output(h)
            if self.output_settings.normalize:
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
        device, negatives = self.device, self.negatives
        warm_items = (self.interactions.item_degree() > 0).nonzero().view(-1)
        num_warm = max(int(warm_items.numel()), 1)
        r1 = max(int(math.ceil(negatives.hard_ranks[0] * num_warm)),
                 neighborhoods.num_neighbors + 1)
        r2 = max(int(math.ceil(negatives.hard_ranks[1] * num_warm)), r1)
        generator = torch.Generator(device=device).manual_seed(self.seed + 1)
        pools = []
        for start in range(0, self.num_items, 512):
            items = torch.arange(start, min(start + 512, self.num_items), device=device)
            counts = neighborhoods.item_visits(items, generator, num_walks=negatives.hard_walks,
                                               walk_length=negatives.hard_walk_length)
            ranked, _ = top_visited(counts, r2)
            band = ranked[:, r1 - 1:]
            available = (band >= 0).sum(1)
            pick = (torch.rand(items.numel(), negatives.hard_pool, generator=generator,
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
        """Item pairs and negatives (:class:`~graphrec.sampling.item_pairs.ItemPairBatches`)
        from the training graph's interactions, on the model's device."""
        negatives = self.negatives
        return ItemPairBatches(
            self.interactions, batch_size, num_layers=self.num_layers,
            walk_settings=self.walk_settings, hard_negatives=self.draw_hard_negatives,
            times=self.train_time, num_folds=self.num_folds, num_easy=negatives.num_easy,
            easy_negative_power=negatives.easy_negative_power, max_hard=negatives.max_hard,
            curriculum=negatives.curriculum, query_weight_exponent=self.query_weight_exponent,
            seed=seed, fold_seed=self.seed + 2, device=self.device)

    def draw_hard_negatives(self, queries: Tensor, count: int,
                            generator: torch.Generator) -> Tensor:
        """``[len(queries), count]`` hard negatives: uniform draws from each query's pool
        (built by :meth:`fit`)."""
        pick = torch.randint(self.negatives.hard_pool, (queries.numel(), count),
                             generator=generator, device=queries.device)
        return self.hard_negatives[queries.unsqueeze(1), pick]

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
        objective = self.objective
        if objective.kind == "softmax":
            # a negative equal to the positive is no negative: left out of the partition
            easy_score = easy_score.masked_fill(
                batch.easy_negatives.unsqueeze(0) == batch.positive.unsqueeze(1), float("-inf"))
            logits = torch.cat([pos_score, easy_score,
                                hard_score.masked_fill(~valid, float("-inf"))], 1)
            return -torch.log_softmax(logits / objective.temperature, dim=1)[:, 0].mean()
        loss = F.relu(easy_score - pos_score + objective.margin).sum(1)
        if hard.size(1):
            hinge = F.relu(hard_score - pos_score + objective.margin)
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
                f"max_hard={self.negatives.max_hard}, curriculum={self.negatives.curriculum}, "
                f"objective={self.objective.kind!r})")
