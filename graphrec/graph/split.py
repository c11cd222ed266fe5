"""Train / validation / test splits of the interaction edges.

Every split keeps all nodes, social edges and node features in each part and only
divides the ``('user', 'interacts', 'item')`` edges (and their reverses) between the
parts, so a model trained on ``split.train`` sees no validation or test interaction.
All random splits are vectorised (no Python loop over users) and deterministic for a
given seed.

No split returns an empty part silently: a training or test part without interactions
(ratios such as ``(0, 0.5, 0.5)``, or users too short for the shares asked) is a
``ValueError`` saying which part and why. A validation ratio of exactly 0 is the one
documented way to ask for no validation part (``split.valid is None``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, REV_INTERACTS, USER
from graphrec.graph.checks import check_number, shown


@dataclass
class Split:
    """Three graphs with the same nodes and disjoint interaction edges.

    ``valid`` is ``None`` for sources that publish only train and test (see
    :func:`holdout_validation` to carve one out of training).
    """

    train: HeteroData
    valid: HeteroData | None
    test: HeteroData

    def sizes(self) -> dict[str, int]:
        def count(graph: HeteroData | None) -> int:
            return 0 if graph is None else int(graph[INTERACTS].edge_index.size(1))

        return {"train": count(self.train), "valid": count(self.valid), "test": count(self.test)}


def select_edges(graph: HeteroData, edge_ids: Tensor) -> HeteroData:
    """A copy of ``graph`` keeping only the interaction edges ``edge_ids`` (sorted order kept)."""
    edge_ids = torch.as_tensor(edge_ids, dtype=torch.long).sort().values
    subset = {INTERACTS: edge_ids}
    if REV_INTERACTS in graph.edge_types:
        subset[REV_INTERACTS] = edge_ids
    return graph.edge_subgraph(subset)


def split_by_edge_ids(
    graph: HeteroData, train_ids: Tensor, valid_ids: Tensor | None, test_ids: Tensor
) -> Split:
    """Builds a :class:`Split` from disjoint sets of interaction edge ids."""
    num_edges = graph[INTERACTS].edge_index.size(1)
    parts = [ids for ids in (train_ids, valid_ids, test_ids) if ids is not None]
    counts = torch.bincount(torch.cat(parts), minlength=num_edges) if parts else None
    if counts is not None and counts.numel() > num_edges:
        raise ValueError(f"edge id out of range (graph has {num_edges} interaction edges)")
    if counts is not None and bool((counts > 1).any()):
        raise ValueError("split parts overlap: an interaction is in more than one part")
    return Split(
        train=select_edges(graph, train_ids),
        valid=None if valid_ids is None else select_edges(graph, valid_ids),
        test=select_edges(graph, test_ids),
    )


def sequence_rank(time: Tensor, order: Tensor | None = None) -> Tensor:
    """Rank of each edge in the lexicographic ``(time, order)`` order (``order`` defaults
    to edge order): the key that puts interactions in sequence, ties in time kept in file
    order."""
    index = (torch.arange(time.numel(), device=time.device) if order is None
             else torch.sort(order, stable=True).indices)
    index = index[torch.sort(time[index], stable=True).indices]
    rank = torch.empty_like(index)
    rank[index] = torch.arange(index.numel(), device=index.device)
    return rank


def _rank_within_user(user: Tensor, sort_key: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Orders edges by (user, sort_key); returns the order, each ordered edge's rank in
    its user's list, and each ordered edge's user degree."""
    # Two stable sorts give a lexicographic (user, key) order without a Python loop.
    order = torch.sort(sort_key, stable=True).indices
    order = order[torch.sort(user[order], stable=True).indices]
    sorted_user = user[order]
    degree = torch.bincount(sorted_user)
    starts = torch.cumsum(degree, 0) - degree
    rank = torch.arange(order.numel()) - starts[sorted_user]
    return order, rank, degree[sorted_user]


def _ratio_counts(degree: Tensor, ratios: Sequence[float]) -> tuple[Tensor, Tensor]:
    """Per-user validation and test counts for a ratio split.

    Follows RecBole's ``split_by_ratio`` so results are comparable with its tables:
    validation and test get ``floor(r * n)`` items; a user whose share is fractional
    (``0 < r * n < 1``) still gets one item there as long as more than one item is left
    for training; training takes the rest.
    """
    train_ratio, valid_ratio, test_ratio = (r / sum(ratios) for r in ratios)
    del train_ratio
    n = degree.to(torch.float64)
    n_valid = torch.floor(valid_ratio * n).long()
    n_test = torch.floor(test_ratio * n).long()
    n_train = degree - n_valid - n_test
    # RecBole tops up the last parts first (test, then validation).
    for share, count in ((test_ratio * n, n_test), (valid_ratio * n, n_valid)):
        bump = (share > 0) & (share < 1) & (n_train > 1)
        count += bump.long()
        n_train -= bump.long()
    return n_valid, n_test


def _check_ratios(ratios: Sequence[float], allow_no_test: bool = False) -> tuple[float, ...]:
    """``(train, valid, test)`` ratios as floats: finite, non-negative, train (and test,
    unless ``allow_no_test``) positive; valid 0 means no validation part."""
    try:
        values = tuple(ratios)
    except TypeError:
        values = ()
    shown_ratios = "(" + ", ".join(shown(r) for r in values) + ")" if values else repr(ratios)
    expected = "three finite non-negative numbers (train, valid, test)"
    if len(values) != 3:
        raise ValueError(f"ratios must be {expected} (got {shown_ratios})")
    try:
        values = tuple(check_number(f"ratios[{k}]", r, low=0) for k, r in enumerate(values))
    except ValueError:
        raise ValueError(f"ratios must be {expected} (got {shown_ratios})") from None
    if values[0] == 0:
        raise ValueError(f"ratios {shown_ratios} leave no share for training: the train "
                         "ratio must be > 0")
    if values[2] == 0 and not allow_no_test:
        raise ValueError(f"ratios {shown_ratios} leave no share for testing: the test ratio "
                         "must be > 0 (test metrics of an empty test set are undefined)")
    return values


def _require_edges(graph: HeteroData, what: str) -> int:
    num_edges = int(graph[INTERACTS].edge_index.size(1))
    if num_edges == 0:
        raise ValueError(f"{what}: the graph has no interactions to split")
    return num_edges


def _split_by_rank(
    graph: HeteroData, sort_key: Tensor, ratios: Sequence[float], allow_no_test: bool = False
) -> Split:
    ratios = _check_ratios(ratios, allow_no_test)
    user = graph[INTERACTS].edge_index[0]
    order, rank, degree = _rank_within_user(user, sort_key)
    n_valid, n_test = _ratio_counts(degree, ratios)
    n_train = degree - n_valid - n_test
    train_ids = order[rank < n_train]
    valid_ids = order[(rank >= n_train) & (rank < n_train + n_valid)]
    test_ids = order[rank >= n_train + n_valid]
    # shares too small for every user's history leave a part empty: refuse, do not
    # return a split whose metrics would be NaN (or a model trained on nothing)
    most = int(torch.bincount(user).max())
    for part, ids, ratio in (("training", train_ids, ratios[0]),
                             ("validation", valid_ids, ratios[1]),
                             ("test", test_ids, ratios[2])):
        if ratio > 0 and ids.numel() == 0:
            raise ValueError(
                f"ratios {ratios} leave the {part} part empty: no user has enough "
                f"interactions (the most any user has is {most}) for a {part} share of "
                f"{ratio / sum(ratios):.3g}; use larger shares or leave_one_out")
    return split_by_edge_ids(graph, train_ids, valid_ids if ratios[1] > 0 else None, test_ids)


def random_split(
    graph: HeteroData, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Per-user random split: each user's interactions are shuffled and cut by ``ratios``.

    Counts per user follow RecBole's rule (see :func:`_ratio_counts`), e.g. a user with
    50 interactions gets 40 / 5 / 5 under the default 80/10/10.

    Args:
        ratios: ``(train, valid, test)`` shares (normalised by their sum): finite and
            non-negative, train and test positive. A valid share of exactly 0 means no
            validation part (``split.valid is None``).
        seed: seeds the shuffle.

    Raises:
        ValueError: bad ratios, a graph without interactions, or a part that would be
            empty (e.g. every user too short for a non-empty test share).
    """
    seed = check_number("seed", seed, integer=True)
    num_edges = _require_edges(graph, "random_split")
    generator = torch.Generator().manual_seed(seed)
    return _split_by_rank(graph, torch.randperm(num_edges, generator=generator), ratios)


def temporal_split(graph: HeteroData, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """Per-user temporal split: each user's earliest interactions train, the latest test.

    Ties in time keep edge order. Needs ``time`` on the interaction edges. ``ratios`` and
    errors as :func:`random_split`.
    """
    if "time" not in graph[INTERACTS]:
        raise ValueError("temporal_split needs interaction timestamps ('time' edge attribute)")
    _require_edges(graph, "temporal_split")
    return _split_by_rank(graph, graph[INTERACTS].time, ratios)


def leave_one_out(graph: HeteroData, order: str = "time", seed: int = 0) -> Split:
    """Per user: last interaction to test, second last to validation, the rest to training.

    Args:
        order: ``"time"`` orders by the ``time`` edge attribute; ties follow the ``order``
            attribute (file order, see ``build_interaction_graph(keep_order=True)``) when
            present, else edge order;
            ``"edge"`` uses edge order (for sources whose file order is the time order
            and that were built with ``times`` = position); ``"random"`` holds out seeded
            random interactions (for sources without times, e.g. LastFM listening).
        seed: seeds ``order="random"``.

    Users with fewer than 3 interactions keep all of them in training (as SASRec does):
    they have too little history to hold any out. A graph where no user has 3 (so the
    test part would be empty) is a ``ValueError``.
    """
    _require_edges(graph, "leave_one_out")
    if order == "time":
        if "time" not in graph[INTERACTS]:
            raise ValueError("leave_one_out(order='time') needs a 'time' edge attribute")
        sort_key = sequence_rank(graph[INTERACTS].time, graph[INTERACTS].get("order"))
    elif order == "edge":
        sort_key = torch.arange(graph[INTERACTS].edge_index.size(1))
    elif order == "random":
        generator = torch.Generator().manual_seed(seed)
        sort_key = torch.randperm(graph[INTERACTS].edge_index.size(1), generator=generator)
    else:
        raise ValueError(f"order must be 'time', 'edge' or 'random' (got {order!r})")
    user = graph[INTERACTS].edge_index[0]
    edge_order, rank, degree = _rank_within_user(user, sort_key)
    from_end = degree - 1 - rank
    held_out = degree >= 3
    test_ids = edge_order[held_out & (from_end == 0)]
    valid_ids = edge_order[held_out & (from_end == 1)]
    train_ids = edge_order[~held_out | (from_end >= 2)]
    if test_ids.numel() == 0:
        raise ValueError("leave_one_out holds out from users with at least 3 interactions; "
                         f"no user has that many (the most is {int(degree.max())}), so the "
                         "validation and test parts would be empty")
    return split_by_edge_ids(graph, train_ids, valid_ids, test_ids)


def edge_ids_of_pairs(graph: HeteroData, users: Tensor, items: Tensor) -> Tensor:
    """Edge ids of the given ``(user index, item index)`` pairs; every pair must be an edge."""
    edge_index = graph[INTERACTS].edge_index
    num_items = graph[ITEM].num_nodes
    # Edges are sorted by (user, item), so their keys are sorted: one searchsorted finds all.
    keys = edge_index[0] * num_items + edge_index[1]
    users = torch.as_tensor(users, dtype=torch.long)
    items = torch.as_tensor(items, dtype=torch.long)
    num_users = graph[USER].num_nodes
    if users.numel() and (int(users.min()) < 0 or int(users.max()) >= num_users
                          or int(items.min()) < 0 or int(items.max()) >= num_items):
        raise ValueError(f"(user, item) pair out of range [0, {num_users}) x [0, {num_items})")
    query = users * num_items + items
    pos = torch.searchsorted(keys, query).clamp(max=max(keys.numel() - 1, 0))
    found = keys.numel() > 0 and bool((keys[pos] == query).all())
    if not found:
        raise ValueError("some (user, item) pairs are not interaction edges of the graph")
    return pos


def fixed_split(
    graph: HeteroData,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    valid: tuple[Tensor, Tensor] | None = None,
) -> Split:
    """A split given as ``(user index, item index)`` pairs per part (e.g. read from files).

    The graph must contain every pair; a pair listed in two parts is an error, and so is
    an empty training or test part, or an empty ``valid`` (pass ``None`` for none).
    """
    def ids(pairs: tuple[Tensor, Tensor] | None, part: str) -> Tensor | None:
        if pairs is None:
            return None
        found = torch.unique(edge_ids_of_pairs(graph, *pairs))
        if found.numel() == 0:
            raise ValueError(f"fixed_split: the {part} part has no pairs"
                             + (" (pass valid=None for no validation part)"
                                if part == "validation" else ""))
        return found

    return split_by_edge_ids(graph, ids(train, "training"), ids(valid, "validation"),
                             ids(test, "test"))


def holdout_validation(split: Split, ratio: float = 0.1, seed: int = 0) -> Split:
    """Moves a per-user random ``ratio`` of the training interactions to validation.

    For fixed splits without a validation part: early stopping then never looks at test.
    ``ratio`` must lie in ``(0, 1)``; a training part too small to give any user's
    interaction to validation is a ``ValueError``.
    """
    if split.valid is not None:
        raise ValueError("split already has a validation part")
    ratio = check_number("ratio", ratio, low=0, high=1, low_open=True, high_open=True)
    seed = check_number("seed", seed, integer=True)
    num_edges = _require_edges(split.train, "holdout_validation")
    generator = torch.Generator().manual_seed(seed)
    inner = _split_by_rank(split.train, torch.randperm(num_edges, generator=generator),
                           (1.0 - ratio, ratio, 0.0), allow_no_test=True)
    return Split(train=inner.train, valid=inner.valid, test=split.test)
