"""Pixie-style random-walk recommender: rank items by how often walks from the query visit them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.graph.walk_graph import WalkGraph
from graphrec.models.base import Recommender, check_sizes
from graphrec.models.registry import register
from graphrec.sampling.walks import visit_counts


@register("pixie")
class Pixie(Recommender):
    r"""Random walks with restart from the query on the user–item graph; items ranked by
    visit count, as in Pixie (`Eksombatchai et al., WWW 2018
    <https://arxiv.org/abs/1711.07601>`_), PinSAGE's production predecessor at Pinterest.

    From query node :math:`s` (an item for :meth:`item_scorer`, a user for :meth:`scorer`),
    ``num_walks`` walks of ``walk_length`` edge steps with restart probability
    ``restart_prob`` per step (:func:`~graphrec.sampling.walks.visit_counts`) count item
    visits :math:`c_s(i)`; the score is :math:`c_s(i)` plus a popularity tie-break below 1
    (items no walk reached are ordered by training popularity). Pixie's early stopping and
    multi-hit boosting are not implemented. No parameters: :meth:`fit` builds the graph
    (kept in the state_dict as extra state, so a saved model walks the same graph).
    Walks are seeded by ``seed`` on every scorer call, so scores are reproducible.

    Args:
        num_users, num_items: index space sizes.
        num_walks: walks per query.
        walk_length: steps per walk (an item → user → item hop is two).
        restart_prob: restart probability per step, in ``[0, 1)``.
        weighted: walk :math:`\propto` interaction weights (e.g. play counts).
        seed: seeds the walks.
    """

    train_defaults: ClassVar[dict[str, Any]] = {}
    selects_on_validation: ClassVar[bool] = False

    def __init__(self, num_users: int, num_items: int, num_walks: int = 1000,
                 walk_length: int = 8, restart_prob: float = 0.3, weighted: bool = False,
                 seed: int = 0) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        self.num_walks = check_number("num_walks", num_walks, integer=True, low=1)
        self.walk_length = check_number("walk_length", walk_length, integer=True, low=1)
        self.restart_prob = check_number("restart_prob", restart_prob, low=0, high=1,
                                         high_open=True)
        self.weighted, self.seed = weighted, seed
        self.register_buffer("tie_break", torch.zeros(self.num_items))
        self.graph: WalkGraph | None = None

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> Pixie:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def fit(self, train: Interactions) -> None:
        weight = train.edge_weight if self.weighted else None
        if self.weighted and weight is None:
            raise ValueError("weighted=True needs interaction weights")
        self.graph = WalkGraph.from_bipartite(train.edge_index, self.num_users, self.num_items,
                                              weight).to(self.tie_break.device)
        order = torch.sort(-train.item_degree().to(self.tie_break.device), stable=True).indices
        tie = torch.empty_like(self.tie_break)
        tie[order] = torch.arange(self.num_items, 0, -1, device=tie.device,
                                  dtype=tie.dtype) / (self.num_items + 1)
        self.tie_break.copy_(tie)

    def get_extra_state(self) -> dict[str, Tensor | None]:
        """The walk graph ``fit`` built (its merged edges and weights), so a saved model
        walks on the same graph after :meth:`set_extra_state` (``{}`` before ``fit``)."""
        if self.graph is None:
            return {}
        return {"edge_index": self.graph.edge_index, "edge_weight": self.graph.weights}

    def set_extra_state(self, state: dict[str, Tensor | None]) -> None:
        if not state:
            self.graph = None
            return
        # rebuilt from the merged edges: the same CSR rows and cumulative weights
        self.graph = WalkGraph(state["edge_index"].to(self.tie_break.device),
                               self.num_users + self.num_items, state["edge_weight"])

    def _visit_scores(self, nodes: Tensor, generator: torch.Generator) -> Tensor:
        if self.graph is None:
            raise RuntimeError("call fit(train) first (the Trainer does)")
        counts = visit_counts(self.graph, nodes.to(self.graph.device), self.num_walks,
                              self.walk_length, self.restart_prob, weighted=self.weighted,
                              generator=generator)
        keep = counts.node >= self.num_users
        scores = self.tie_break.expand(nodes.numel(), -1).clone()
        scores[counts.start_index[keep], counts.node[keep] - self.num_users] += (
            counts.count[keep].to(scores.dtype))
        return scores

    def _generator(self) -> torch.Generator:
        return torch.Generator(device=self.tie_break.device).manual_seed(self.seed)

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        generator = self._generator()
        return lambda items: self._visit_scores(items + self.num_users, generator)

    def scorer(self) -> Callable[[Tensor], Tensor]:
        generator = self._generator()
        return lambda users: self._visit_scores(users, generator)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"num_walks={self.num_walks}, walk_length={self.walk_length}, "
                f"restart_prob={self.restart_prob})")
