r"""Item-pair training batches (PinSAGE's): related item pairs, easy and hard negatives, and
the sampled computation graph of all of them.

One epoch of :class:`ItemPairBatches` (`Ying et al., KDD 2018
<https://arxiv.org/abs/1806.01973>`_, with graphrec's folds; :class:`~graphrec.models.PinSAGE`
describes the procedure in full):

* **Folds.** The training interactions are split into ``num_folds`` seeded folds; epoch
  :math:`e` takes fold :math:`e \bmod F` as positives :math:`(u, i)` and samples the
  neighbourhoods on the graph *without* that fold, so :math:`i` never reaches its query's
  neighbourhood through :math:`u`.
* **Queries.** The query :math:`q` of a positive :math:`(u, i)` is the item :math:`u`
  engaged with just before :math:`i` when there are times (just after, for :math:`u`'s first
  item), else another item of :math:`u`, uniformly or :math:`\propto w_{uq}^a`
  (``query_weight_exponent`` :math:`a` over the interaction weights).
* **Easy negatives.** ``num_easy`` items shared by the batch, drawn from the items with
  training interactions, uniformly or :math:`\propto \deg(v)^\beta` (``easy_negative_power``).
* **Hard negatives.** ``hard_negatives(queries, k, generator)`` gives ``k`` per query; the
  curriculum makes ``k = min(e - 1, max_hard)`` in epoch :math:`e` (``max_hard`` from the
  start without it).

The sampler knows nothing of the model: it gets the interactions, their times, the
settings, the number of layers to sample for and a callable for the hard negatives.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.sampling.neighborhoods import (
    ImportanceNeighborhoods,
    MultiHopSampler,
    SampledSubgraph,
)

#: ``hard_negatives(queries [B], k, generator) -> [B, k]`` item ids: ``k`` hard negatives
#: per query item, drawn with ``generator`` (on the queries' device).
HardNegatives = Callable[[Tensor, int, torch.Generator], Tensor]


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


class ItemPairBatches:
    r"""One epoch of :class:`ItemPairBatch` (see the module docstring for the folds, pairs
    and negatives). Iterating it again starts the next epoch: the epoch count drives the
    fold and the hard-negative curriculum, so the trainer needs no hook.

    Args:
        interactions: the training interactions (moved to ``device``).
        batch_size: pairs per batch.
        num_layers: hops of each batch's computation graph.
        walk_settings: keyword arguments of
            :meth:`~graphrec.sampling.neighborhoods.ImportanceNeighborhoods.from_interactions`
            (``num_neighbors``, ``num_walks``, ``walk_length``, ``restart_prob``, ``seed``).
        hard_negatives: draws the hard negatives (see :data:`HardNegatives`).
        times: ``[E]`` times aligned with ``interactions``' sorted pairs (``None``: none;
            queries are then drawn from the user's other items).
        num_folds: :math:`F`.
        num_easy: easy negatives per batch (at most the number of items with interactions).
        easy_negative_power: :math:`\beta` (0: uniform).
        max_hard: hard negatives per query at the end of the curriculum.
        curriculum: add one hard negative per epoch.
        query_weight_exponent: :math:`a` (0: uniform queries; used without times and with
            interaction weights only).
        seed: seeds the pairs, the easy negatives and the hard-negative draws.
        fold_seed: seeds the folds.
        device: where the batches are made (default: the interactions' device).
    """

    def __init__(
        self,
        interactions: Interactions,
        batch_size: int,
        *,
        num_layers: int,
        walk_settings: Mapping[str, Any],
        hard_negatives: HardNegatives,
        times: Tensor | None = None,
        num_folds: int = 5,
        num_easy: int = 500,
        easy_negative_power: float = 0.0,
        max_hard: int = 6,
        curriculum: bool = True,
        query_weight_exponent: float = 1.0,
        seed: int = 0,
        fold_seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        for name, value, low in (("batch_size", batch_size, 1), ("num_layers", num_layers, 1),
                                 ("num_folds", num_folds, 1), ("num_easy", num_easy, 1),
                                 ("max_hard", max_hard, 0)):
            check_number(name, value, integer=True, low=low)
        check_number("easy_negative_power", easy_negative_power)
        check_number("query_weight_exponent", query_weight_exponent, low=0)
        self.batch_size = batch_size
        self.num_layers, self.walk_settings = num_layers, dict(walk_settings)
        self.draw_hard_negatives = hard_negatives
        self.num_folds, self.num_easy = num_folds, num_easy
        self.max_hard, self.curriculum = max_hard, curriculum
        self.device = torch.device(interactions.device if device is None else device)
        train = interactions.to(self.device)
        self.interactions = train
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        folds = torch.Generator().manual_seed(fold_seed)
        self.fold = torch.randint(num_folds, (train.num_interactions,),
                                  generator=folds).to(self.device)
        self.warm_items = (train.item_degree() > 0).nonzero().view(-1)
        self.easy_weights = None  # deg^beta over warm_items (None: uniform)
        if easy_negative_power != 0:
            self.easy_weights = (train.item_degree()[self.warm_items].double()
                                 ** float(easy_negative_power))
        self.query_weights = None
        if query_weight_exponent > 0 and times is None and train.edge_weight is not None:
            self.query_weights = train.edge_weight.double().clamp(min=0) ** float(
                query_weight_exponent)
        if times is not None and times.numel() != train.num_interactions:
            raise ValueError(f"times must hold one time per interaction "
                             f"({train.num_interactions}; got {times.numel()})")
        self.partner = None if times is None else self._consecutive(times.to(self.device))
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
        """The computation-graph sampler of ``fold``'s epochs: neighbourhoods walked on the
        training graph without the fold's edges (built once per fold)."""
        if fold not in self.samplers:
            positives = self.interactions.edge_index[:, self.fold == fold]
            neighborhoods = ImportanceNeighborhoods.from_interactions(
                self.interactions, exclude=positives, **self.walk_settings).to(self.device)
            self.samplers[fold] = MultiHopSampler(neighborhoods, self.num_layers)
        return self.samplers[fold]

    def num_hard(self) -> int:
        """Hard negatives per query in the current epoch."""
        return min(self.epoch - 1, self.max_hard) if self.curriculum else self.max_hard

    def __len__(self) -> int:
        return -(-self.interactions.num_interactions // (self.num_folds * self.batch_size))

    def __iter__(self) -> Iterator[ItemPairBatch]:
        self.epoch += 1
        train, generator = self.interactions, self.generator
        fold = (self.epoch - 1) % self.num_folds
        edges = (self.fold == fold).nonzero().view(-1)
        partner = (self._random_partner(edges) if self.partner is None
                   else self.partner[edges])
        keep = partner >= 0
        positive, query = train.indices[edges[keep]], partner[keep]
        order = torch.randperm(query.numel(), generator=generator, device=self.device)
        query, positive = query[order], positive[order]
        sampler, num_hard = self.sampler(fold), self.num_hard()
        num_easy = min(self.num_easy, self.warm_items.numel())
        for start in range(0, query.numel(), self.batch_size):
            q, p = query[start:start + self.batch_size], positive[start:start + self.batch_size]
            easy = self.warm_items[self._easy_draw(num_easy)]
            hard = self.draw_hard_negatives(q, num_hard, generator)
            subgraph = sampler.sample(torch.cat([q, p, easy, hard.reshape(-1)]))
            yield ItemPairBatch(q, p, easy, hard, subgraph)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.interactions.num_interactions} interactions, "
                f"batch_size={self.batch_size}, num_folds={self.num_folds}, "
                f"epoch={self.epoch})")
