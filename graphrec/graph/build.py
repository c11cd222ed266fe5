"""Building the user–item(–user) :class:`~torch_geometric.data.HeteroData` graph.

Everything in graphrec starts from the graph this module builds: loaders call
:func:`build_interaction_graph`, splits cut its interaction edges, models read
their training graph from it.

Layout of the returned graph::

    graph['user'].num_nodes, graph['user'].id_map       # IdMap: raw id <-> index
    graph['item'].num_nodes, graph['item'].id_map
    graph['user', 'interacts', 'item'].edge_index       # [2, E], sorted by (user, item)
    graph['user', 'interacts', 'item'].edge_weight      # [E] float, if weights were given
    graph['user', 'interacts', 'item'].time             # [E] int64, if timestamps were given
    graph['user', 'interacts', 'item'].order            # [E] int64 first input row, if keep_order
    graph['item', 'rev_interacts', 'user'].edge_index   # the same E edges reversed, same order
    graph['user', 'follows', 'user'].edge_index         # [2, S], if social pairs were given
    graph['user'].x / graph['item'].x                   # node features, if given
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

USER = "user"
ITEM = "item"
INTERACTS = (USER, "interacts", ITEM)
REV_INTERACTS = (ITEM, "rev_interacts", USER)
FOLLOWS = (USER, "follows", USER)
# Side information some sources carry (LastFM): tagging events and item tags.
TAG = "tag"
TAGGED = (USER, "tagged", ITEM)
HAS_TAG = (ITEM, "has_tag", TAG)


class IdMap:
    """A bijection between raw ids (any hashable) and contiguous indices ``0..n-1``.

    Indices follow the order in which ids were first registered, so a loader that
    registers ids in file order gets reproducible indices.
    """

    def __init__(self, raw_ids: Iterable[Hashable] = ()) -> None:
        self._index: dict[Hashable, int] = {}
        self._raw: list[Hashable] = []
        self.add(raw_ids)

    def add(self, raw_ids: Iterable[Hashable]) -> None:
        """Registers ids not seen before (in first-seen order)."""
        for raw in raw_ids:
            if raw not in self._index:
                self._index[raw] = len(self._raw)
                self._raw.append(raw)

    def index(self, raw_ids: Iterable[Hashable]) -> np.ndarray:
        """Indices of known raw ids; raises ``KeyError`` naming the first unknown id."""
        out = []
        for raw in raw_ids:
            try:
                out.append(self._index[raw])
            except KeyError:
                raise KeyError(f"unknown id {raw!r}") from None
        return np.asarray(out, dtype=np.int64)

    def raw(self, indices: Iterable[int] | Tensor) -> list[Hashable]:
        """Raw ids of the given indices."""
        if isinstance(indices, Tensor):
            indices = indices.tolist()
        return [self._raw[int(i)] for i in indices]

    @property
    def raw_ids(self) -> list[Hashable]:
        return list(self._raw)

    def __contains__(self, raw: Hashable) -> bool:
        return raw in self._index

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"IdMap({len(self)} ids)"


def _as_numpy(values: Any, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (got shape {array.shape})")
    if array.dtype.kind == "U" and not isinstance(values, np.ndarray):
        # NumPy strings drop trailing NULs: "3\x00" would silently become id "3"
        texts = [str(value) for value in values]
        if "\x00" in "".join(texts):
            bad = next(text for text in texts if "\x00" in text)
            raise ValueError(f"{name}: id {bad!r} holds a NUL character, which NumPy strings "
                             f"cannot keep (it would merge with {bad.rstrip(chr(0))!r})")
    return array


def _encode(raw: np.ndarray, id_map: IdMap) -> np.ndarray:
    """Maps raw ids to indices, registering new ids in first-seen order (vectorised)."""
    if len(raw) == 0:
        return np.zeros(0, dtype=np.int64)
    uniques, first_pos, inverse = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(first_pos, kind="stable")  # first-seen order, not sorted order
    id_map.add(uniques[order].tolist())
    return id_map.index(uniques.tolist())[inverse.reshape(-1)]


def build_interaction_graph(
    users: Sequence[Hashable] | np.ndarray | Tensor,
    items: Sequence[Hashable] | np.ndarray | Tensor,
    *,
    weights: Sequence[float] | np.ndarray | Tensor | None = None,
    times: Sequence[int] | np.ndarray | Tensor | None = None,
    social: tuple[Any, Any] | None = None,
    user_ids: Sequence[Hashable] | None = None,
    item_ids: Sequence[Hashable] | None = None,
    user_features: np.ndarray | Tensor | None = None,
    item_features: np.ndarray | Tensor | None = None,
    keep_time: str = "first",
    keep_order: bool = False,
) -> HeteroData:
    r"""Builds the interaction graph from raw ids.

    Args:
        users, items: raw user and item id of each interaction (any hashable, or ints).
        weights: optional weight per interaction (play count, rating).
        times: optional integer timestamp per interaction (e.g. unix seconds).
        social: optional pair ``(sources, targets)`` of raw user ids, one directed
            ``follows`` edge each. Users that appear only here become users with no
            interactions (they are real users, e.g. cold-start users).
        user_ids, item_ids: optional full id lists. They fix the index order (index ``i``
            is ``user_ids[i]``) and may contain ids without interactions. When given,
            an interaction or social pair naming an id outside them is an error.
        user_features, item_features: optional ``[num_users, F]`` / ``[num_items, F]``
            node features, rows aligned with ``user_ids`` / ``item_ids`` (required then).
        keep_time: which timestamp a merged duplicate keeps, ``"first"`` (default: the
            moment the user first met the item, which is what sequence models order by)
            or ``"last"``.
        keep_order: also store ``order``: each edge's first row in the input (int64), the
            tie-break of equal timestamps when interactions are put in sequence (file order).

    Duplicate ``(user, item)`` interactions are merged into one edge: weights are
    summed, and the earliest (``keep_time="first"``) or latest timestamp is kept.
    Duplicate social pairs are merged and self-loops dropped. Interaction edges are
    sorted by ``(user, item)``; the reverse edge type holds the same edges in the same
    order, so an edge id selects the same interaction in both.

    Returns:
        :class:`~torch_geometric.data.HeteroData` laid out as described in the module
        docstring.
    """
    users = _as_numpy(users, "users")
    items = _as_numpy(items, "items")
    if len(users) != len(items):
        raise ValueError(f"users and items differ in length ({len(users)} vs {len(items)})")
    if keep_time not in ("first", "last"):
        raise ValueError(f"keep_time must be 'first' or 'last' (got {keep_time!r})")

    fixed_users = user_ids is not None
    fixed_items = item_ids is not None
    user_map = IdMap(user_ids if fixed_users else ())
    item_map = IdMap(item_ids if fixed_items else ())
    if fixed_users and len(user_map) != len(user_ids):
        raise ValueError("user_ids contains duplicates")
    if fixed_items and len(item_map) != len(item_ids):
        raise ValueError("item_ids contains duplicates")

    def encode(raw: np.ndarray, id_map: IdMap, fixed: bool, what: str) -> np.ndarray:
        if not fixed:
            return _encode(raw, id_map)
        try:
            return id_map.index(raw.tolist())
        except KeyError as err:
            raise ValueError(f"{what}: {err.args[0]} is not in the given {what} id list") from None

    user_index = encode(users, user_map, fixed_users, "user")
    item_index = encode(items, item_map, fixed_items, "item")

    social_index = None
    if social is not None:
        sources, targets = (_as_numpy(side, "social") for side in social)
        if len(sources) != len(targets):
            raise ValueError("social sources and targets differ in length")
        both = np.concatenate([sources, targets]) if len(sources) else sources
        encoded = encode(both, user_map, fixed_users, "user")
        social_index = encoded.reshape(2, -1) if len(sources) else np.zeros((2, 0), np.int64)

    num_users, num_items = len(user_map), len(item_map)

    # Merge duplicates: one sort over the (user, item) key serves dedup and ordering.
    key = user_index * num_items + item_index
    unique_key, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1)
    graph = HeteroData()
    graph[USER].num_nodes = num_users
    graph[ITEM].num_nodes = num_items
    graph[USER].id_map = user_map
    graph[ITEM].id_map = item_map

    edge_index = torch.from_numpy(np.stack([unique_key // max(num_items, 1),
                                            unique_key % max(num_items, 1)]))
    graph[INTERACTS].edge_index = edge_index
    graph[REV_INTERACTS].edge_index = edge_index.flip(0)

    if weights is not None:
        weights = _as_numpy(weights, "weights").astype(np.float64)
        if len(weights) != len(key):
            raise ValueError("weights and interactions differ in length")
        merged = np.bincount(inverse, weights=weights, minlength=len(unique_key))
        edge_weight = torch.from_numpy(merged.astype(np.float32))
        graph[INTERACTS].edge_weight = edge_weight
        graph[REV_INTERACTS].edge_weight = edge_weight
    if times is not None:
        times = _as_numpy(times, "times").astype(np.int64)
        if len(times) != len(key):
            raise ValueError("times and interactions differ in length")
        if keep_time == "first":
            merged = np.full(len(unique_key), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(merged, inverse, times)
        else:
            merged = np.full(len(unique_key), np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(merged, inverse, times)
        edge_time = torch.from_numpy(merged)
        graph[INTERACTS].time = edge_time
        graph[REV_INTERACTS].time = edge_time

    if keep_order:
        first_row = np.full(len(unique_key), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_row, inverse, np.arange(len(key), dtype=np.int64))
        graph[INTERACTS].order = torch.from_numpy(first_row)
        graph[REV_INTERACTS].order = graph[INTERACTS].order

    if social_index is not None:
        social_index = social_index[:, social_index[0] != social_index[1]]
        social_key = np.unique(social_index[0] * num_users + social_index[1])
        graph[FOLLOWS].edge_index = torch.from_numpy(
            np.stack([social_key // max(num_users, 1), social_key % max(num_users, 1)]))

    for node_type, features, fixed, count in (
        (USER, user_features, fixed_users, num_users),
        (ITEM, item_features, fixed_items, num_items),
    ):
        if features is None:
            continue
        if not fixed:
            raise ValueError(f"{node_type}_features need {node_type}_ids to align their rows")
        features = torch.as_tensor(features, dtype=torch.float32)
        if features.dim() != 2 or features.size(0) != count:
            raise ValueError(f"{node_type}_features must have shape [{count}, F] "
                             f"(got {tuple(features.shape)})")
        graph[node_type].x = features
    return graph


def num_friendships(graph: HeteroData) -> int:
    """Number of undirected friendships: unordered user pairs linked in either direction."""
    if FOLLOWS not in graph.edge_types:
        return 0
    pairs = graph[FOLLOWS].edge_index
    low, high = torch.minimum(pairs[0], pairs[1]), torch.maximum(pairs[0], pairs[1])
    return int(torch.unique(low * graph[USER].num_nodes + high).numel())


def graph_summary(graph: HeteroData) -> dict[str, int]:
    """The counts a results file reports about a graph."""
    social = graph[FOLLOWS].edge_index.size(1) if FOLLOWS in graph.edge_types else 0
    return {
        "num_users": int(graph[USER].num_nodes),
        "num_items": int(graph[ITEM].num_nodes),
        "num_interactions": int(graph[INTERACTS].edge_index.size(1)),
        "num_social_edges": int(social),
    }
