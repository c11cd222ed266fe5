r"""Sessions from timestamped interactions, and the item graph they induce (EGES, section 2).

`Wang et al., "Billion-scale Commodity Embedding for E-commerce Recommendation in Alibaba"
(KDD 2018) <https://arxiv.org/abs/1803.02349>`_ build a directed, weighted item graph from
user behaviour: each user's events are cut into sessions where the time gap is large, and
consecutive items :math:`i, j` of a session give an edge :math:`i \to j` whose weight is the
number of times that transition occurs over all sessions. Random walks on that graph are the
corpus of DeepWalk/node2vec/EGES item embeddings (:mod:`graphrec.sampling.walks`,
:mod:`graphrec.sampling.skipgram`).

Everything is vectorised over events (one lexicographic sort, then masks); there is no
Python loop over users or sessions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER, build_interaction_graph
from graphrec.graph.walk_graph import WalkGraph

#: One day in seconds: the session gap for day-resolution data (one session per user and day).
ONE_DAY = 86_400


@dataclass
class Sessions:
    r"""Sessions as a flat item array with CSR offsets.

    Attributes:
        items: ``[N]`` int64 item indices, session after session, in time order.
        offsets: ``[S + 1]`` int64; session ``s`` is ``items[offsets[s]:offsets[s + 1]]``.
        users: ``[S]`` int64 user of each session.
        num_items: size of the item index space.
    """

    items: Tensor
    offsets: Tensor
    users: Tensor
    num_items: int

    @property
    def num_sessions(self) -> int:
        return int(self.users.numel())

    @property
    def lengths(self) -> Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    @property
    def session_of(self) -> Tensor:
        """``[N]`` the session index of every item occurrence (non-decreasing)."""
        return torch.repeat_interleave(torch.arange(self.num_sessions, device=self.items.device),
                                       self.lengths)

    def transitions(self) -> Tensor:
        """``[2, T]`` consecutive pairs ``(items[k], items[k + 1])`` within a session."""
        session = self.session_of
        same = session[:-1] == session[1:]
        return torch.stack([self.items[:-1][same], self.items[1:][same]])

    def item_counts(self) -> Tensor:
        """``[num_items]`` occurrences of each item."""
        return torch.bincount(self.items, minlength=self.num_items)

    def to(self, device: torch.device | str) -> Sessions:
        return Sessions(self.items.to(device), self.offsets.to(device), self.users.to(device),
                        self.num_items)

    def cut(self, drop_items: Tensor | None = None, drop_pairs: Tensor | None = None,
            min_length: int = 2) -> Sessions:
        r"""Sessions with some items and transitions removed, each removal *cutting* its
        session in two (so no new transition appears where something was removed).

        Args:
            drop_items: ``[num_items]`` bool; occurrences of these items are removed and end
                their session piece (e.g. cold-start items held out entirely).
            drop_pairs: ``[2, P]`` item pairs whose transitions are removed in *both*
                directions (e.g. held-out item-graph edges).
            min_length: pieces shorter than this are dropped.

        The item graph of the result is the item graph of ``self`` without the edges that
        touch a dropped item and without the dropped pairs (up to the weight of transitions
        that only occurred inside pieces shorter than ``min_length``, i.e. none for 2).
        """
        items, session = self.items, self.session_of
        starts = torch.ones_like(items, dtype=torch.bool)
        starts[1:] = session[1:] != session[:-1]
        if drop_pairs is not None and drop_pairs.numel() and items.numel() > 1:
            n = self.num_items
            a, b = drop_pairs[0].to(items.device), drop_pairs[1].to(items.device)
            forbidden = torch.cat([a * n + b, b * n + a]).unique()
            key = items[:-1] * n + items[1:]
            pos = torch.searchsorted(forbidden, key).clamp_(max=forbidden.numel() - 1)
            starts[1:] |= forbidden[pos] == key
        keep = torch.ones_like(items, dtype=torch.bool)
        if drop_items is not None:
            removed = drop_items.to(items.device)[items]
            keep = ~removed
            # an item after a removed one starts a new piece
            starts[1:] |= removed[:-1]
        piece = torch.cumsum(starts.long(), 0) - 1
        return _compact(items[keep], piece[keep], self.users[session[keep]], self.num_items,
                        min_length)

    def __repr__(self) -> str:
        return (f"Sessions(num_sessions={self.num_sessions}, num_events={self.items.numel()}, "
                f"num_items={self.num_items})")


def _compact(items: Tensor, group: Tensor, users: Tensor, num_items: int,
             min_length: int) -> Sessions:
    """Sessions from items labelled by a non-decreasing group id, keeping groups of at least
    ``min_length`` items (group ids need not be contiguous)."""
    if items.numel() == 0:
        empty = items.new_zeros(0)
        return Sessions(empty, items.new_zeros(1), empty, num_items)
    new_group = torch.ones_like(items, dtype=torch.bool)
    new_group[1:] = group[1:] != group[:-1]
    dense = torch.cumsum(new_group.long(), 0) - 1
    lengths = torch.bincount(dense)
    keep = lengths[dense] >= min_length
    items, dense, users = items[keep], dense[keep], users[keep]
    lengths = lengths[lengths >= min_length]
    offsets = torch.zeros(lengths.numel() + 1, dtype=torch.long, device=items.device)
    torch.cumsum(lengths, 0, out=offsets[1:])
    return Sessions(items, offsets, users[offsets[:-1]], num_items)


def build_sessions(
    users: Tensor,
    items: Tensor,
    times: Tensor,
    num_items: int,
    *,
    max_gap: int | None = ONE_DAY,
    min_item_count: int = 1,
    max_items_per_user: int | None = None,
    min_length: int = 2,
) -> Sessions:
    r"""Cuts each user's time-ordered events into sessions.

    Steps, in this order:

    1. denoising: users with more than ``max_items_per_user`` events are dropped (EGES
       removes such crawler/spam-like users), then events of items with fewer than
       ``min_item_count`` events (counted over the remaining events) are dropped;
    2. each user's events are ordered by time (ties keep input order);
    3. a new session starts at a user's first event and wherever the gap to the user's
       previous event is at least ``max_gap`` (``None``: one session per user, the whole
       sequence). With day-resolution times (midnights) and ``max_gap = ONE_DAY`` this is
       one session per user and day;
    4. an item repeated consecutively inside a session is kept once (several tags for one
       artist on a day are one visit, and an ``i → i`` self-loop is not a transition);
    5. sessions with fewer than ``min_length`` items (default 2: one-item sessions carry no
       transition) are dropped.

    Args:
        users, items, times: ``[E]`` integer user index, item index and timestamp of each
            event.
        num_items: size of the item index space.

    Returns:
        :class:`Sessions` ordered by user, then time.
    """
    users = torch.as_tensor(users, dtype=torch.long)
    items = torch.as_tensor(items, dtype=torch.long, device=users.device)
    times = torch.as_tensor(times, dtype=torch.long, device=users.device)
    if not (users.shape == items.shape == times.shape) or users.dim() != 1:
        raise ValueError("users, items and times must be 1-D of the same length (got "
                         f"{tuple(users.shape)}, {tuple(items.shape)}, {tuple(times.shape)})")
    if items.numel() and (int(items.min()) < 0 or int(items.max()) >= num_items):
        raise ValueError(f"item index out of range [0, {num_items})")
    if users.numel() and int(users.min()) < 0:
        raise ValueError("user indices must be non-negative")
    if max_gap is not None and max_gap <= 0:
        raise ValueError(f"max_gap must be positive or None (got {max_gap})")
    if max_items_per_user is not None and users.numel():
        per_user = torch.bincount(users)
        keep = per_user[users] <= max_items_per_user
        users, items, times = users[keep], items[keep], times[keep]
    if min_item_count > 1 and items.numel():
        keep = torch.bincount(items, minlength=num_items)[items] >= min_item_count
        users, items, times = users[keep], items[keep], times[keep]
    # lexicographic (user, time, input position): two stable sorts
    order = torch.sort(times, stable=True).indices
    order = order[torch.sort(users[order], stable=True).indices]
    users, items, times = users[order], items[order], times[order]
    new_session = torch.ones_like(items, dtype=torch.bool)
    new_session[1:] = users[1:] != users[:-1]
    if max_gap is not None:
        new_session[1:] |= (times[1:] - times[:-1]) >= max_gap
    session = torch.cumsum(new_session.long(), 0) - 1
    repeat = torch.zeros_like(new_session)
    repeat[1:] = (items[1:] == items[:-1]) & ~new_session[1:]
    keep = ~repeat
    return _compact(items[keep], session[keep], users[keep], num_items, min_length)


def sessions_from_graph(
    graph: HeteroData,
    relation: tuple[str, str, str] = INTERACTS,
    **kwargs,
) -> Sessions:
    """:func:`build_sessions` over the timestamped ``relation`` edges of a graph (``time``
    attribute required): ``('user', 'interacts', 'item')`` for ratings, ``('user', 'tagged',
    'item')`` for LastFM's dated tagging events. ``kwargs`` go to :func:`build_sessions`."""
    store = graph[relation]
    if "time" not in store:
        raise ValueError(f"sessions need a 'time' attribute on {relation}")
    users, items = store.edge_index
    return build_sessions(users, items, store.time, graph[ITEM].num_nodes, **kwargs)


def events_as_interactions(graph: HeteroData, relation: tuple[str, str, str]) -> HeteroData:
    """A user–item graph whose ``('user', 'interacts', 'item')`` edges are the timestamped
    ``relation`` events of ``graph`` (e.g. LastFM's ``('user', 'tagged', 'item')``), same
    user and item indices; a repeated (user, item) pair keeps its first time (see
    :func:`~graphrec.graph.build_interaction_graph`). Leave-one-out splits and sessions
    then work on those events as on ratings."""
    store = graph[relation]
    if "time" not in store:
        raise ValueError(f"{relation} has no 'time' attribute")
    users, items = store.edge_index
    return build_interaction_graph(
        users.numpy(), items.numpy(), times=store.time.numpy(),
        user_ids=list(range(graph[USER].num_nodes)), item_ids=list(range(graph[ITEM].num_nodes)))


def item_graph(sessions: Sessions, symmetric: bool = False) -> WalkGraph:
    r"""The item graph of ``sessions``: edge :math:`i \to j` for each consecutive pair of a
    session, weight = number of occurrences over all sessions (duplicates are merged and
    summed by :class:`~graphrec.graph.walk_graph.WalkGraph`).

    Args:
        symmetric: also add :math:`j \to i` with the same weight (the undirected graph; for
            day-resolution data the order inside a session is arbitrary, so its direction
            carries no information).
    """
    pairs = sessions.transitions()
    if symmetric:
        pairs = torch.cat([pairs, pairs.flip(0)], 1)
    weight = torch.ones(pairs.size(1), dtype=torch.float64, device=pairs.device)
    return WalkGraph.from_edge_index(pairs, sessions.num_items, weight)
