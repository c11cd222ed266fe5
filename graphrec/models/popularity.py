"""Popularity: the baseline every evaluation should print."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender, check_sizes
from graphrec.models.registry import register


@register("popularity")
class Popularity(Recommender):
    """Ranks items by their number of training interactions, the same list for every user
    (ties broken by item index). Fitted in closed form by :meth:`fit`."""

    train_defaults: ClassVar[dict[str, Any]] = {}
    selects_on_validation: ClassVar[bool] = False

    def __init__(self, num_users: int, num_items: int) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        self.register_buffer("item_score", torch.zeros(self.num_items))

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> Popularity:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def fit(self, train: Interactions) -> None:
        degree = train.item_degree().to(self.item_score.device)
        # Score = reversed rank of a stable sort: exact in float32 and ties go to the
        # lower item index on every device.
        order = torch.sort(-degree, stable=True).indices
        score = torch.empty_like(self.item_score)
        score[order] = torch.arange(self.num_items, 0, -1, device=score.device,
                                    dtype=score.dtype)
        self.item_score.copy_(score)

    def scorer(self) -> Callable[[Tensor], Tensor]:
        item_score = self.item_score
        return lambda users: item_score.expand(users.numel(), -1)

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """The same popularity list for every query item."""
        return self.scorer()
