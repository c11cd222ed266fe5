"""A compact, device-resident view of one set of user→item interactions.

Samplers, the evaluator and closed-form models all ask the same questions of an
interaction set: which items does user ``u`` have (CSR rows), is ``(u, i)`` an
interaction (membership), how popular is each item. :class:`Interactions` answers them
with tensors built once, so none of those questions costs a Python loop over users.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER


class Interactions:
    r"""User→item interactions as sorted keys and a CSR matrix.

    Args:
        edge_index: ``[2, E]`` (user index, item index) pairs; duplicates are merged.
        num_users, num_items: sizes of the index spaces.
        edge_weight: optional ``[E]`` weights (kept aligned with the sorted pairs).
        edge_time, edge_order: optional ``[E]`` timestamps and file rows (the graph's ``time``
            and ``order``), kept aligned the same way; sequence models order by them
            (:class:`~graphrec.graph.sequences.Sequences`).

    Attributes:
        indptr: ``[num_users + 1]`` row pointers; ``indices[indptr[u]:indptr[u+1]]`` are
            user ``u``'s items in increasing order.
        indices: ``[E]`` item indices.
        keys: ``[E]`` sorted ``user * num_items + item`` keys, for membership tests by
            binary search.
    """

    def __init__(
        self,
        edge_index: Tensor,
        num_users: int,
        num_items: int,
        edge_weight: Tensor | None = None,
        edge_time: Tensor | None = None,
        edge_order: Tensor | None = None,
    ) -> None:
        edge_index = torch.as_tensor(edge_index, dtype=torch.long)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, E] (got {tuple(edge_index.shape)})")
        if edge_index.numel():
            if int(edge_index[0].min()) < 0 or int(edge_index[0].max()) >= num_users:
                raise ValueError(f"user index out of range [0, {num_users})")
            if int(edge_index[1].min()) < 0 or int(edge_index[1].max()) >= num_items:
                raise ValueError(f"item index out of range [0, {num_items})")
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        keys = edge_index[0] * num_items + edge_index[1]
        keys, order = torch.sort(keys)
        unique = torch.ones_like(keys, dtype=torch.bool)
        unique[1:] = keys[1:] != keys[:-1]
        self.keys = keys[unique]
        self.edge_weight = None if edge_weight is None else edge_weight[order][unique]
        self.edge_time = None if edge_time is None else edge_time[order][unique]
        self.edge_order = None if edge_order is None else edge_order[order][unique]
        self.users = torch.div(self.keys, num_items, rounding_mode="floor")
        self.indices = self.keys - self.users * num_items
        counts = torch.bincount(self.users, minlength=num_users)
        self.indptr = torch.zeros(num_users + 1, dtype=torch.long, device=keys.device)
        self.indptr[1:] = torch.cumsum(counts, 0)

    @classmethod
    def from_graph(cls, graph: HeteroData) -> Interactions:
        """The ``('user', 'interacts', 'item')`` edges of a graph (e.g. a split part)."""
        store = graph[INTERACTS]
        return cls(store.edge_index, graph[USER].num_nodes, graph[ITEM].num_nodes,
                   store.get("edge_weight"), store.get("time"), store.get("order"))

    @property
    def num_interactions(self) -> int:
        return int(self.keys.numel())

    @property
    def device(self) -> torch.device:
        return self.keys.device

    @property
    def edge_index(self) -> Tensor:
        """``[2, E]`` pairs sorted by (user, item)."""
        return torch.stack([self.users, self.indices])

    def user_degree(self) -> Tensor:
        return self.indptr[1:] - self.indptr[:-1]

    def item_degree(self) -> Tensor:
        return torch.bincount(self.indices, minlength=self.num_items)

    def contains(self, users: Tensor, items: Tensor) -> Tensor:
        """Boolean tensor (broadcast shape of the inputs): is ``(users, items)`` an interaction.

        An item index outside ``[0, num_items)`` (such as the ``-1`` padding of
        :func:`~graphrec.eval.ranking.topk_items`) is never one."""
        query = users * self.num_items + items
        if self.keys.numel() == 0:
            return torch.zeros_like(query, dtype=torch.bool)
        pos = torch.searchsorted(self.keys, query).clamp(max=self.keys.numel() - 1)
        # without the range test, item -1 of user u would read as item num_items - 1 of u - 1
        return (self.keys[pos] == query) & (items >= 0) & (items < self.num_items)

    def rows(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """The interactions of ``users``: ``(row, item)`` with ``row`` indexing into ``users``.

        Vectorised CSR gather, e.g. to mask a score matrix: ``scores[row, item] = -inf``.
        """
        users = users.to(self.device)
        start = self.indptr[users]
        count = self.indptr[users + 1] - start
        row = torch.repeat_interleave(torch.arange(users.numel(), device=self.device), count)
        first = torch.cumsum(count, 0) - count
        offsets = torch.arange(row.numel(), device=self.device) - first[row]
        return row, self.indices[start[row] + offsets]

    def to(self, device: torch.device | str) -> Interactions:
        """A copy on ``device`` (self when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        out = object.__new__(Interactions)
        out.num_users, out.num_items = self.num_users, self.num_items
        for name in ("keys", "users", "indices", "indptr", "edge_weight", "edge_time",
                     "edge_order"):
            value = getattr(self, name)
            setattr(out, name, None if value is None else value.to(device))
        return out

    def __repr__(self) -> str:
        return (f"Interactions(num_users={self.num_users}, num_items={self.num_items}, "
                f"num_interactions={self.num_interactions})")
