r"""Importance-based item neighbourhoods and multi-hop mini-batch subgraphs (PinSAGE).

PinSAGE (`Ying et al., KDD 2018 <https://arxiv.org/abs/1806.01973>`_) does not convolve
over an item's whole neighbourhood: it runs short random walks with restart from the item
on the item–user–item graph, counts the items they visit, and keeps the :math:`T` most
visited as the item's neighbours, weighted by their L1-normalised visit counts

.. math::
    \mathcal{N}(q) = \operatorname{top}_T\, c_q(v), \qquad
    \alpha_{qv} = c_q(v) \Big/ \sum_{v' \in \mathcal{N}(q)} c_q(v'),

i.e. a Monte-Carlo personalised-PageRank neighbourhood. :class:`ImportanceNeighborhoods`
computes them with the vectorised walk engine (:func:`~graphrec.sampling.walks.visit_counts`
and :func:`~graphrec.sampling.walks.top_visited` on the graph of
:meth:`~graphrec.sampling.walks.WalkGraph.from_bipartite`); :class:`MultiHopSampler` turns
them into per-hop PyG-style subgraphs for a mini-batch of items, so any stack of
``MessagePassing`` layers can run on them.

Leakage: the graph the neighbourhoods come from is built *without* the interactions
that serve as training positives (``exclude``), so an item's neighbourhood cannot reach
its positive through the very user that makes the pair.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions
from graphrec.graph.walk_graph import WalkGraph
from graphrec.sampling.walks import VisitCounts, top_visited, visit_counts


def default_num_neighbors(num_items: int) -> int:
    """PinSAGE keeps :math:`T = 50` neighbours for a catalogue of billions; graphrec's default
    for small catalogues is 10, down to 2 below a hundred items."""
    return int(max(2, min(10, num_items // 10)))


class ImportanceNeighborhoods:
    r"""Top-:math:`T` visited items of walks with restart from each item.

    From item :math:`q` (node :math:`U + q` of the homogeneous user–item graph), ``num_walks``
    walks of ``walk_length`` edge steps with restart probability ``restart_prob`` per step
    are run (:func:`~graphrec.sampling.walks.visit_counts`); visits of *item* nodes other
    than :math:`q` are counted and the ``num_neighbors`` most visited are kept with
    weights = visit counts normalised to sum to 1 over the kept ones (ties: smaller item
    index first). An item never is its own neighbour. An item without interactions, or whose
    walks reach no other item, has no neighbours (its row is ``-1`` padding with weight 0).

    Defaults scale the paper's (walks from each of billions of pins, :math:`T = 50`) to
    catalogues of thousands: 256 walks of 6 steps (3 item hops) with restart 0.5, and
    :func:`default_num_neighbors` neighbours.

    Args:
        user_item: ``[2, E]`` (user, item) training pairs.
        num_users, num_items: index space sizes.
        num_neighbors: :math:`T`.
        num_walks: :math:`R`, walks per item.
        walk_length: edge steps per walk (an item → user → item hop is 2 steps).
        restart_prob: restart probability per step.
        edge_weight: optional ``[E]`` weights; used when ``weighted``.
        weighted: walk with probability :math:`\propto` edge weight.
        exclude: optional ``[2, P]`` (user, item) pairs left out of the graph (the training
            positives, so they cannot leak through the neighbourhoods).
        seed: seeds the walks of :meth:`table` (and of :meth:`sample` without a generator).
        chunk_size: items whose walks run together (bounds memory to
            ``chunk_size * num_walks * (walk_length + 1)`` int64).

    Attributes:
        graph: the :class:`~graphrec.sampling.walks.WalkGraph` walked on.
    """

    def __init__(
        self,
        user_item: Tensor,
        num_users: int,
        num_items: int,
        num_neighbors: int | None = None,
        num_walks: int = 256,
        walk_length: int = 6,
        restart_prob: float = 0.5,
        edge_weight: Tensor | None = None,
        weighted: bool = False,
        exclude: Tensor | None = None,
        seed: int = 0,
        chunk_size: int = 2048,
    ) -> None:
        user_item = torch.as_tensor(user_item, dtype=torch.long)
        if user_item.dim() != 2 or user_item.size(0) != 2:
            raise ValueError(f"user_item must have shape [2, E] (got {tuple(user_item.shape)})")
        if weighted and edge_weight is None:
            raise ValueError("weighted=True needs edge_weight")
        if exclude is not None and exclude.numel():
            keep = ~Interactions(exclude.to(user_item.device), num_users,
                                 num_items).contains(user_item[0], user_item[1])
            user_item = user_item[:, keep]
            edge_weight = None if edge_weight is None else edge_weight[keep]
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.num_neighbors = (default_num_neighbors(num_items) if num_neighbors is None
                              else int(num_neighbors))
        if self.num_neighbors < 1 or num_walks < 1 or walk_length < 2:
            raise ValueError("need num_neighbors >= 1, num_walks >= 1 and walk_length >= 2 "
                             f"(got {self.num_neighbors}, {num_walks}, {walk_length})")
        self.num_walks, self.walk_length = int(num_walks), int(walk_length)
        self.restart_prob, self.weighted = float(restart_prob), bool(weighted)
        self.seed, self.chunk_size = int(seed), int(chunk_size)
        self.graph = WalkGraph.from_bipartite(user_item, num_users, num_items,
                                              edge_weight if weighted else None)
        self._table: tuple[Tensor, Tensor] | None = None

    @classmethod
    def from_interactions(cls, train: Interactions, **kwargs) -> ImportanceNeighborhoods:
        """Neighbourhoods on the graph of ``train`` (see the class arguments)."""
        if kwargs.get("weighted") and train.edge_weight is not None:
            kwargs.setdefault("edge_weight", train.edge_weight)
        return cls(train.edge_index, train.num_users, train.num_items, **kwargs)

    @property
    def device(self) -> torch.device:
        return self.graph.device

    def to(self, device: torch.device | str) -> ImportanceNeighborhoods:
        """Moves the walk graph (and the cached table) to ``device`` in place."""
        self.graph = self.graph.to(device)
        if self._table is not None:
            self._table = (self._table[0].to(device), self._table[1].to(device))
        return self

    def item_visits(self, items: Tensor, generator: torch.Generator | None = None,
                    num_walks: int | None = None, walk_length: int | None = None
                    ) -> VisitCounts:
        """Visit counts of items (item index space) from walks started at ``items``."""
        items = torch.as_tensor(items, dtype=torch.long, device=self.device).view(-1)
        counts = visit_counts(self.graph, items + self.num_users, num_walks or self.num_walks,
                              walk_length or self.walk_length, self.restart_prob,
                              weighted=self.weighted, generator=generator)
        keep = counts.node >= self.num_users  # items only; order (start, node) is kept
        return VisitCounts(counts.start_index[keep], counts.node[keep] - self.num_users,
                           counts.count[keep], counts.num_starts, self.num_items)

    def sample(self, items: Tensor | Sequence[int],
               generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Fresh neighbourhoods of ``items`` by walking: ``(neighbors, weights)``, both
        ``[S, T]`` (``-1`` / 0 padding), weights summing to 1 over each non-empty row."""
        items = torch.as_tensor(items, dtype=torch.long, device=self.device).view(-1)
        if items.numel() and (int(items.min()) < 0 or int(items.max()) >= self.num_items):
            raise ValueError(f"item index out of range [0, {self.num_items})")
        if generator is None:
            generator = torch.Generator(device=self.device).manual_seed(self.seed)
        parts = [top_visited(self.item_visits(items[start:start + self.chunk_size], generator),
                             self.num_neighbors)
                 for start in range(0, items.numel(), self.chunk_size)]
        if not parts:
            empty = torch.empty(0, self.num_neighbors, device=self.device)
            return empty.long(), empty
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def table(self) -> tuple[Tensor, Tensor]:
        """Neighbourhoods of every item, computed once (seeded by ``seed``) and cached:
        ``(neighbors, weights)``, both ``[num_items, T]``."""
        if self._table is None:
            self._table = self.sample(torch.arange(self.num_items, device=self.device))
        return self._table

    def set_table(self, neighbors: Tensor, weights: Tensor) -> None:
        """Uses a table :meth:`table` returned before (e.g. saved with a model) instead of
        walking again: the same neighbourhoods on any device."""
        shape = (self.num_items, self.num_neighbors)
        if tuple(neighbors.shape) != shape or tuple(weights.shape) != shape:
            raise ValueError(f"neighbors and weights must have shape {shape} (got "
                             f"{tuple(neighbors.shape)} and {tuple(weights.shape)})")
        self._table = (neighbors.to(self.device), weights.to(self.device))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_items={self.num_items}, "
                f"num_neighbors={self.num_neighbors}, num_walks={self.num_walks}, "
                f"walk_length={self.walk_length}, restart_prob={self.restart_prob})")


@dataclass
class Hop:
    """One hop of a sampled computation graph, in PyG's bipartite message-passing form.

    Source nodes are ``nodes[:num_src]`` of the :class:`SampledSubgraph`, target nodes
    ``nodes[:num_dst]`` (targets are a prefix of sources, so ``x[:num_dst]`` is the
    targets' own representation). ``edge_index[0]`` indexes sources, ``edge_index[1]``
    targets (``source → target``); ``edge_weight`` are the importance weights.
    """

    edge_index: Tensor
    edge_weight: Tensor
    num_src: int
    num_dst: int

    def to(self, device: torch.device | str) -> Hop:
        return Hop(self.edge_index.to(device), self.edge_weight.to(device), self.num_src,
                   self.num_dst)


@dataclass
class SampledSubgraph:
    """A mini-batch's computation graph: ``hops[0]`` is the first layer (input side),
    ``hops[-1]`` produces the batch. ``nodes`` are item ids, outermost layer first needed;
    the batch's unique items are ``nodes[:num_targets]`` and ``target_index`` maps each
    requested item to its row there."""

    nodes: Tensor
    hops: list[Hop]
    target_index: Tensor

    @property
    def num_targets(self) -> int:
        return self.hops[-1].num_dst if self.hops else int(self.nodes.numel())

    def to(self, device: torch.device | str) -> SampledSubgraph:
        return SampledSubgraph(self.nodes.to(device), [h.to(device) for h in self.hops],
                               self.target_index.to(device))


class MultiHopSampler:
    """Layer-wise importance sampling for a mini-batch of items.

    For ``num_layers`` layers, the batch's items need their neighbours' layer
    :math:`K-1` representations, which need *their* neighbours, and so on; each layer's
    node set is the next layer's set plus its new neighbours (deduplicated, so an item
    shared by many neighbourhoods is computed once per layer).

    Args:
        neighborhoods: where neighbours come from.
        num_layers: :math:`K`.
        cached: take neighbours from :meth:`ImportanceNeighborhoods.table` (computed once
            for all items) instead of walking afresh for every batch.
    """

    def __init__(self, neighborhoods: ImportanceNeighborhoods, num_layers: int,
                 cached: bool = True) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 (got {num_layers})")
        self.neighborhoods = neighborhoods
        self.num_layers = int(num_layers)
        self.cached = cached

    def _neighbors(self, items: Tensor, generator: torch.Generator | None
                   ) -> tuple[Tensor, Tensor]:
        if self.cached:
            neighbors, weights = self.neighborhoods.table()
            return neighbors[items], weights[items]
        return self.neighborhoods.sample(items, generator)

    def sample(self, items: Tensor | Sequence[int],
               generator: torch.Generator | None = None) -> SampledSubgraph:
        """The computation graph of ``items`` (any order, repeats allowed)."""
        device = self.neighborhoods.device
        items = torch.as_tensor(items, dtype=torch.long, device=device).view(-1)
        nodes, target_index = torch.unique(items, return_inverse=True)
        # global item id -> position in ``nodes`` (-1: not yet in the subgraph)
        position = torch.full((self.neighborhoods.num_items,), -1, dtype=torch.long,
                              device=device)
        position[nodes] = torch.arange(nodes.numel(), device=device)
        hops: list[Hop] = []
        for _ in range(self.num_layers):
            num_dst = nodes.numel()
            neighbors, weights = self._neighbors(nodes, generator)
            valid = neighbors >= 0
            dst = torch.arange(num_dst, device=device).unsqueeze(1).expand_as(neighbors)[valid]
            src_items = neighbors[valid]
            new = torch.unique(src_items[position[src_items] < 0])
            position[new] = torch.arange(num_dst, num_dst + new.numel(), device=device)
            nodes = torch.cat([nodes, new])
            hops.append(Hop(torch.stack([position[src_items], dst]), weights[valid],
                            nodes.numel(), num_dst))
        hops.reverse()
        return SampledSubgraph(nodes, hops, target_index)

    def full_graph(self) -> Hop:
        """Every item's neighbourhood as one ``num_items -> num_items`` hop (layer-wise
        inference over the whole catalogue reuses it for every layer)."""
        neighbors, weights = self.neighborhoods.table()
        valid = neighbors >= 0
        num_items = self.neighborhoods.num_items
        dst = torch.arange(num_items, device=neighbors.device).unsqueeze(1).expand_as(
            neighbors)[valid]
        return Hop(torch.stack([neighbors[valid], dst]), weights[valid], num_items, num_items)
