"""Per-user interaction sequences, read from the same interaction graph as every model.

A sequence model sees a user's items in time order. :class:`Sequences` builds that order
from one or more :class:`~graphrec.graph.interactions.Interactions` parts (e.g. training
alone during validation, training + validation at test time): per user, items sorted by
``time``, ties kept in file order (the graph's ``order`` attribute, see
``build_interaction_graph(keep_order=True)``). It is a CSR like ``Interactions``, so
windows of many users are gathered in one vectorised step, left-padded with
:data:`PADDING`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions

#: The item index of an empty (padding) slot in a ``[B, maxlen]`` sequence tensor.
PADDING = -1


class Sequences:
    r"""Each user's items in time order, as CSR.

    Args:
        indptr: ``[num_users + 1]`` row pointers.
        items: ``[E]`` item indices, each user's row in time order.
        times: ``[E]`` timestamps aligned with ``items``.
        num_items: size of the item index space.

    Use :meth:`from_interactions` to build one.
    """

    def __init__(self, indptr: Tensor, items: Tensor, times: Tensor, num_items: int) -> None:
        self.indptr = indptr
        self.items = items
        self.times = times
        self.num_users = int(indptr.numel() - 1)
        self.num_items = int(num_items)

    @classmethod
    def from_interactions(cls, parts: Interactions | Sequence[Interactions]) -> Sequences:
        """Merges ``parts`` and orders each user's items by ``(time, file order)``.

        Every part needs ``edge_time`` (the graph's ``time``). Ties in time follow
        ``edge_order`` when every part has it, else the order of the parts (earlier parts
        first), then item index.

        Raises:
            ValueError: a part without timestamps, or parts of different index spaces.
        """
        parts = [parts] if isinstance(parts, Interactions) else list(parts)
        if not parts:
            raise ValueError("Sequences.from_interactions needs at least one part")
        first = parts[0]
        for part in parts:
            if part.edge_time is None:
                raise ValueError("sequences need interaction timestamps: build the graph with "
                                 "times= (file position for sources without them)")
            if (part.num_users, part.num_items) != (first.num_users, first.num_items):
                raise ValueError("parts have different user/item index spaces")
        device = first.device
        users = torch.cat([p.users.to(device) for p in parts])
        items = torch.cat([p.indices.to(device) for p in parts])
        times = torch.cat([p.edge_time.to(device) for p in parts])
        if all(p.edge_order is not None for p in parts):
            tie = torch.cat([p.edge_order.to(device) for p in parts])
        else:
            tie = torch.arange(users.numel(), device=device)
        # three stable sorts: lexicographic (user, time, tie) without a Python loop
        index = torch.sort(tie, stable=True).indices
        index = index[torch.sort(times[index], stable=True).indices]
        index = index[torch.sort(users[index], stable=True).indices]
        counts = torch.bincount(users, minlength=first.num_users)
        indptr = torch.zeros(first.num_users + 1, dtype=torch.long, device=device)
        indptr[1:] = torch.cumsum(counts, 0)
        return cls(indptr, items[index], times[index], first.num_items)

    @property
    def device(self) -> torch.device:
        return self.items.device

    def lengths(self) -> Tensor:
        """``[num_users]`` sequence lengths."""
        return self.indptr[1:] - self.indptr[:-1]

    def to(self, device: torch.device | str) -> Sequences:
        device = torch.device(device)
        if device == self.device:
            return self
        return Sequences(self.indptr.to(device), self.items.to(device), self.times.to(device),
                         self.num_items)

    def scaled_times(self) -> Tensor:
        r"""``[E]`` TiSASRec's personalised time steps: per user :math:`u`,
        :math:`\lfloor (t - t^u_{\min}) / r^u \rfloor` with :math:`r^u` the smallest non-zero
        gap between consecutive timestamps of the user (1 if there is none).

        Relative intervals :math:`|t'_i - t'_j|` of these steps are in units of the user's
        own shortest gap (Li et al., WSDM 2020, section 3.2).
        """
        num_users = self.num_users
        user = torch.repeat_interleave(torch.arange(num_users, device=self.device),
                                       self.lengths())
        times = self.times
        gap = times[1:] - times[:-1]
        same_user = user[1:] == user[:-1]
        usable = same_user & (gap > 0)
        big = torch.iinfo(torch.long).max
        scale = torch.full((num_users,), big, dtype=torch.long, device=self.device)
        scale.scatter_reduce_(0, user[1:][usable], gap[usable], reduce="amin")
        scale = torch.where(scale == big, torch.ones_like(scale), scale)
        start = times[self.indptr[:-1].clamp(max=max(times.numel() - 1, 0))]
        return torch.div(times - start[user], scale[user], rounding_mode="floor")

    def window(
        self, users: Tensor, maxlen: int, drop_last: int = 0, values: Tensor | None = None
    ) -> Tensor:
        """The last ``maxlen`` entries of each user's sequence after dropping its last
        ``drop_last``, left-padded: ``[B, maxlen]``.

        Args:
            users: ``[B]`` user indices.
            maxlen: window length.
            drop_last: entries removed from the end first (1 gives the inputs whose next
                items are the training targets).
            values: ``[E]`` per-entry values to gather instead of the items (e.g.
                :meth:`scaled_times`); padding is :data:`PADDING` either way.
        """
        users = users.to(self.device)
        source = self.items if values is None else values
        start = self.indptr[users]
        end = (self.indptr[users + 1] - drop_last).clamp(min=start)
        pos = end.unsqueeze(1) - maxlen + torch.arange(maxlen, device=self.device)
        valid = pos >= start.unsqueeze(1)
        if source.numel() == 0:
            return torch.full(pos.shape, PADDING, dtype=source.dtype, device=self.device)
        gathered = source[pos.clamp(min=0, max=source.numel() - 1)]
        return torch.where(valid, gathered, torch.full_like(gathered, PADDING))

    def __repr__(self) -> str:
        return (f"Sequences(num_users={self.num_users}, num_items={self.num_items}, "
                f"num_interactions={int(self.items.numel())})")
