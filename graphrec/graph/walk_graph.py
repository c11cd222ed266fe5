r"""The directed graph random walks run on: CSR rows, merged duplicate edges, cumulative weights.

:class:`WalkGraph` is built once from an ``edge_index`` (or a user–item bipartite graph) and
cached: CSR rows sorted by target, duplicate edges merged with their weights summed, a
global float64 cumulative sum of the weights (weighted steps by binary search) and sorted
``source * num_targets + target`` keys (:meth:`WalkGraph.has_edge`). It is a graph
structure, not a sampler, so it lives in :mod:`graphrec.graph` where the item graph of
sessions (:func:`~graphrec.graph.sessions.item_graph`) builds it; the walks themselves are
:mod:`graphrec.sampling.walks` (which re-exports :class:`WalkGraph`).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

#: Random numbers and weight sums are float64 on every device: a float32 global cumulative
#: sum resolves only 2^-24 of the graph's total weight, so on a graph with millions of
#: edges small rows would lose their distribution entirely.
WEIGHT_DTYPE = torch.float64


def _as_index(values: Tensor | Sequence[int], name: str, device: torch.device) -> Tensor:
    """``values`` as an int64 tensor on ``device``; floating or boolean input is an error."""
    tensor = torch.as_tensor(values, device=device)
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer node ids (got dtype {tensor.dtype})")
    return tensor.to(torch.long)


def _check_range(values: Tensor, bound: int, name: str) -> None:
    if values.numel() == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= bound:
        bad = low if low < 0 else high
        raise ValueError(f"{name} holds node {bad}, outside [0, {bound})")


class WalkGraph:
    r"""A directed graph in CSR form, cached for random walks.

    Row :math:`v` lists the out-neighbours of :math:`v` in increasing order. The graph may
    be rectangular (``num_nodes = (num_sources, num_targets)``, e.g. one relation of a
    heterogeneous graph, used by :class:`~graphrec.sampling.walks.MetapathWalker`);
    :func:`~graphrec.sampling.walks.random_walks` needs a square one.

    Duplicate edges are merged into one edge whose weight is the sum of theirs: a weighted
    walk behaves exactly as on the multigraph, while a uniform walk sees each distinct
    neighbour once.

    Args:
        edge_index: ``[2, E]`` integer (source, target) pairs.
        num_nodes: :math:`N`, or ``(num_sources, num_targets)``.
        edge_weight: optional ``[E]`` non-negative finite weights (stored as float64).

    Attributes:
        indptr: ``[N + 1]`` int64 row pointers.
        indices: ``[E']`` int64 targets, sorted within each row (:math:`E' \le E` after
            merging duplicates).
        keys: ``[E']`` sorted int64 keys ``source * num_targets + target`` (membership
            by binary search, :meth:`has_edge`).
        out_degree: ``[N]`` int64 number of distinct out-neighbours.
        weights: ``[E']`` float64 merged weights aligned with ``indices``, or ``None``.
        cum_weights: ``[E']`` float64 inclusive cumulative sum of ``weights`` over the whole
            CSR order (``None`` when unweighted).
        row_start_weight: ``[N]`` float64 :math:`C_{<v}`, the cumulative weight before row
            :math:`v`.
        row_weight: ``[N]`` float64 :math:`W_v = C_{\le v} - C_{<v}` (the row total as the
            cumulative sum sees it, so targets and the searched array agree).
        last_positive: ``[N]`` int64 position of the last positive-weight edge of each row,
            ``-1`` if it has none (weighted dead end).

    Raises:
        ValueError: malformed shapes, ids outside ``[0, num_nodes)``, negative or
            non-finite weights.
    """

    def __init__(
        self,
        edge_index: Tensor,
        num_nodes: int | tuple[int, int],
        edge_weight: Tensor | None = None,
    ) -> None:
        num_src, num_dst = self._sizes(num_nodes)
        if not isinstance(edge_index, Tensor):
            edge_index = torch.as_tensor(edge_index)
        device = edge_index.device
        edge_index = _as_index(edge_index, "edge_index", device)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, E] (got {tuple(edge_index.shape)})")
        _check_range(edge_index[0], num_src, "edge_index[0] (sources)")
        _check_range(edge_index[1], num_dst, "edge_index[1] (targets)")
        weight = None
        if edge_weight is not None:
            weight = torch.as_tensor(edge_weight, device=device)
            if weight.dtype == torch.bool or weight.dtype.is_complex:
                raise ValueError(f"edge_weight must be real numbers (got dtype {weight.dtype})")
            weight = weight.detach().to(WEIGHT_DTYPE)
            if weight.dim() != 1 or weight.numel() != edge_index.size(1):
                raise ValueError(f"edge_weight must have shape [E] = [{edge_index.size(1)}] "
                                 f"(got {tuple(weight.shape)})")
            if weight.numel() and not bool(torch.isfinite(weight).all()):
                raise ValueError("edge_weight holds NaN or infinite values")
            if weight.numel() and bool((weight < 0).any()):
                raise ValueError(f"edge_weight must be non-negative (min {float(weight.min())})")

        self.num_nodes, self.num_targets = num_src, num_dst
        keys, order = torch.sort(edge_index[0] * num_dst + edge_index[1])
        if weight is not None:
            weight = weight[order]
        if keys.numel() > 1 and bool((keys[1:] == keys[:-1]).any()):  # merge duplicates
            keys, inverse = torch.unique_consecutive(keys, return_inverse=True)
            if weight is not None:
                weight = torch.zeros(keys.numel(), dtype=WEIGHT_DTYPE,
                                     device=device).index_add_(0, inverse, weight)
        self.keys = keys
        rows = torch.div(keys, max(num_dst, 1), rounding_mode="floor")
        self.indices = keys - rows * num_dst
        self.out_degree = torch.bincount(rows, minlength=num_src)
        self.indptr = torch.zeros(num_src + 1, dtype=torch.long, device=device)
        torch.cumsum(self.out_degree, 0, out=self.indptr[1:])
        self.weights = weight
        self.cum_weights = self.row_start_weight = self.row_weight = None
        self.last_positive = None
        if weight is not None:
            self._weight_tables(rows)

    def _weight_tables(self, rows: Tensor) -> None:
        """The cumulative-sum tables weighted steps search (see the class attributes)."""
        weight, device = self.weights, self.keys.device
        cum = torch.cumsum(weight, 0)
        self.cum_weights = cum
        start, end = self.indptr[:-1], self.indptr[1:]
        zero = torch.zeros(1, dtype=WEIGHT_DTYPE, device=device)
        padded = torch.cat([zero, cum])  # padded[i] = cumulative weight before edge i
        self.row_start_weight = padded[start]
        self.row_weight = padded[end] - padded[start]
        positive = (weight > 0).nonzero().view(-1)
        self.last_positive = torch.full((self.num_nodes,), -1, dtype=torch.long, device=device)
        self.last_positive.scatter_reduce_(0, rows[positive], positive, reduce="amax")

    @staticmethod
    def _sizes(num_nodes: int | tuple[int, int]) -> tuple[int, int]:
        sizes = (num_nodes, num_nodes) if not isinstance(num_nodes, tuple | list) else num_nodes
        if len(sizes) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 0
                                  for s in sizes):
            raise ValueError("num_nodes must be a non-negative int or a pair of them "
                             f"(got {num_nodes!r})")
        return int(sizes[0]), int(sizes[1])

    @classmethod
    def from_edge_index(
        cls,
        edge_index: Tensor,
        num_nodes: int | tuple[int, int],
        edge_weight: Tensor | None = None,
    ) -> WalkGraph:
        """The directed graph ``edge_index[0] → edge_index[1]`` (see the class docstring);
        built on ``edge_index``'s device."""
        return cls(edge_index, num_nodes, edge_weight)

    @classmethod
    def from_bipartite(
        cls,
        user_item_edge_index: Tensor,
        num_users: int,
        num_items: int,
        edge_weight: Tensor | None = None,
    ) -> WalkGraph:
        r"""The homogeneous, symmetric graph of a user–item bipartite graph: users are nodes
        :math:`0..U-1`, items :math:`U..U+I-1`, and each interaction gives both
        :math:`u \to U + i` and :math:`U + i \to u` with the same weight.

        Args:
            user_item_edge_index: ``[2, E]`` (user index, item index) pairs.
            num_users, num_items: :math:`U`, :math:`I`.
            edge_weight: optional ``[E]`` non-negative weights.
        """
        for name, size in (("num_users", num_users), ("num_items", num_items)):
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError(f"{name} must be a non-negative int (got {size!r})")
        if not isinstance(user_item_edge_index, Tensor):
            user_item_edge_index = torch.as_tensor(user_item_edge_index)
        pairs = _as_index(user_item_edge_index, "user_item_edge_index",
                          user_item_edge_index.device)
        if pairs.dim() != 2 or pairs.size(0) != 2:
            raise ValueError("user_item_edge_index must have shape [2, E] "
                             f"(got {tuple(pairs.shape)})")
        _check_range(pairs[0], num_users, "user_item_edge_index[0] (users)")
        _check_range(pairs[1], num_items, "user_item_edge_index[1] (items)")
        users, items = pairs[0], pairs[1] + num_users
        edge_index = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
        if edge_weight is not None:
            edge_weight = torch.as_tensor(edge_weight, device=pairs.device)
            if edge_weight.dim() != 1 or edge_weight.numel() != pairs.size(1):
                raise ValueError(f"edge_weight must have shape [E] = [{pairs.size(1)}] "
                                 f"(got {tuple(edge_weight.shape)})")
            edge_weight = torch.cat([edge_weight, edge_weight])
        return cls(edge_index, num_users + num_items, edge_weight)

    # ------------------------------------------------------------------------ properties
    @property
    def device(self) -> torch.device:
        return self.keys.device

    @property
    def num_edges(self) -> int:
        """Number of distinct edges (after merging duplicates)."""
        return int(self.keys.numel())

    @property
    def is_weighted(self) -> bool:
        return self.weights is not None

    @property
    def is_square(self) -> bool:
        return self.num_nodes == self.num_targets

    @property
    def edge_index(self) -> Tensor:
        """``[2, E']`` distinct edges in CSR order (sorted by source, then target)."""
        rows = torch.repeat_interleave(torch.arange(self.num_nodes, device=self.device),
                                       self.out_degree)
        return torch.stack([rows, self.indices])

    # ------------------------------------------------------------------------- queries
    def has_edge(self, src: Tensor, dst: Tensor) -> Tensor:
        """Boolean tensor (broadcast shape of the inputs): is ``src → dst`` an edge.

        One binary search per pair in the sorted keys, :math:`O(\\log E)`. Ids outside the
        graph (e.g. the ``-1`` of a stopped walker) are simply not edges.
        """
        src, dst = torch.broadcast_tensors(torch.as_tensor(src, device=self.device),
                                           torch.as_tensor(dst, device=self.device))
        if self.num_edges == 0:
            return torch.zeros(src.shape, dtype=torch.bool, device=self.device)
        valid = (src >= 0) & (src < self.num_nodes) & (dst >= 0) & (dst < self.num_targets)
        query = (src.clamp(0, max(self.num_nodes - 1, 0)) * self.num_targets
                 + dst.clamp(0, max(self.num_targets - 1, 0)))
        pos = torch.searchsorted(self.keys, query.contiguous()).clamp_(max=self.num_edges - 1)
        return valid & (self.keys[pos] == query)

    def step(
        self,
        current: Tensor,
        *,
        weighted: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""One first-order step for every walker.

        Args:
            current: ``[W]`` int64 node ids on the graph's device; ``-1`` marks a stopped
                walker.
            weighted: draw edge :math:`(v, x)` with probability :math:`w_{vx} / W_v`
                (needs weights) instead of :math:`1 / d_v`.
            generator: random source on the graph's device.

        Returns:
            ``[W]`` int64 next nodes; ``-1`` where ``current`` is ``-1`` or has no out-edge
            (no positive-weight out-edge when ``weighted``). One uniform draw per walker
            either way, so the random stream does not depend on which walkers stopped.
        """
        if weighted and self.weights is None:
            raise ValueError("weighted walks need edge weights; this graph has none")
        device = self.device
        rand = torch.rand(current.shape, generator=generator, dtype=WEIGHT_DTYPE, device=device)
        if self.num_edges == 0:
            return torch.full_like(current, -1)
        node = current.clamp(min=0)
        if weighted:
            # the row's share of the global cumulative sum: C_{<v} + u W_v; right=True skips
            # zero-weight edges (they do not raise C), and rounding that lands past the row's
            # end is pulled back to its last positive-weight edge
            target = self.row_start_weight[node] + rand * self.row_weight[node]
            pos = torch.searchsorted(self.cum_weights, target, right=True)
            last = self.last_positive[node]
            pos = torch.minimum(pos, last)
            alive = (current >= 0) & (last >= 0)
        else:
            degree = self.out_degree[node]
            offset = torch.minimum((rand * degree).long(), degree - 1)  # guard u*d rounding to d
            pos = self.indptr[node] + offset
            alive = (current >= 0) & (degree > 0)
        pos = pos.clamp_(0, self.num_edges - 1)
        return torch.where(alive, self.indices[pos], -1)

    def to(self, device: torch.device | str) -> WalkGraph:
        """A copy on ``device`` (self when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        out = object.__new__(WalkGraph)
        out.num_nodes, out.num_targets = self.num_nodes, self.num_targets
        for name in ("keys", "indices", "out_degree", "indptr", "weights", "cum_weights",
                     "row_start_weight", "row_weight", "last_positive"):
            value = getattr(self, name)
            setattr(out, name, None if value is None else value.to(device))
        return out

    def __repr__(self) -> str:
        size = (str(self.num_nodes) if self.is_square
                else f"({self.num_nodes}, {self.num_targets})")
        return (f"WalkGraph(num_nodes={size}, num_edges={self.num_edges}, "
                f"weighted={self.is_weighted}, device={self.device})")
