r"""Vectorised random walks: uniform, edge-weighted, node2vec, with restart, and metapaths.

Walk-based models (DeepWalk/node2vec embeddings, PinSAGE's importance neighbourhoods,
personalised-PageRank candidates) all need many short walks on a fixed graph.
:class:`WalkGraph` is that graph, built once: CSR rows (``indptr``, ``indices``), a global
cumulative sum of edge weights and sorted edge keys for membership tests (it lives in
:mod:`graphrec.graph.walk_graph`, below the samplers, and is re-exported here). Every function
here advances *all* walkers together, one step at a time, so a walk of length :math:`L`
costs :math:`L` rounds of gathers and binary searches over the walker vector and no Python
loop over nodes, edges or walkers.

One first-order step from node :math:`v` (out-degree :math:`d_v`, row start
:math:`s_v = \text{indptr}[v]`, :math:`u \sim U[0, 1)`):

.. math::
    \text{uniform: } x = \text{indices}\big[s_v + \lfloor u\, d_v \rfloor\big], \qquad
    \text{weighted: } x = \text{indices}\big[\text{searchsorted}(C, C_{<v} + u\, W_v)\big]

with :math:`C` the inclusive cumulative sum of all edge weights in CSR order,
:math:`C_{<v}` its value before row :math:`v` and :math:`W_v` the row's total, so edge
:math:`(v, x)` is drawn with probability :math:`w_{vx} / W_v`. node2vec's second-order
walk reweights that by :math:`\alpha_{pq}` and is sampled by rejection (see
:func:`random_walks`).

Conventions shared by every walk function:

* A walk is a row of ``[num_walkers, length + 1]`` node ids (int64); column 0 is the
  start. A walker at a node without out-edges (or, in weighted walks, whose out-edges all
  weigh zero) stops there: the rest of its row is ``-1``. Ids are never out of range.
* Randomness comes from ``generator`` (a :class:`torch.Generator` on the graph's device):
  the same seed on the same device gives the same walks.
* Everything stays on the graph's device; there is no host round trip inside a walk except
  the one-element emptiness checks of node2vec's rejection rounds.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, REV_INTERACTS
from graphrec.graph.walk_graph import WEIGHT_DTYPE, WalkGraph, _as_index, _check_range

EdgeType = tuple[str, str, str]

#: item → user → item: the metapath PinSAGE walks on a user–item graph.
DEFAULT_METAPATH: tuple[EdgeType, ...] = (REV_INTERACTS, INTERACTS)


def _check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is None:
        return
    gen_device = torch.device(generator.device)
    if gen_device.type != device.type or (
        gen_device.index is not None and device.index is not None
        and gen_device.index != device.index
    ):
        raise ValueError(f"generator is on {gen_device}, the graph on {device}: create it with "
                         f"torch.Generator(device={str(device)!r})")


def _check_length(length: int) -> int:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be a non-negative int (got {length!r})")
    return length


#: node2vec rejection rounds: once fewer than ``budget`` proposals are pending, each pending
#: walker draws up to 16 per round (a round's fixed cost, tens of kernel launches, then
#: dominates its per-proposal cost; more proposals per round mean fewer rounds).
_PROPOSAL_BUDGET_CPU = 4096
_PROPOSAL_BUDGET_CUDA = 1 << 16


def _node2vec_accept(
    graph: WalkGraph,
    current: Tensor,
    previous: Tensor,
    proposal: Tensor,
    weighted: bool,
    p: float,
    q: float,
    max_rounds: int,
    generator: torch.Generator | None,
) -> Tensor:
    r"""Rejection sampling of node2vec's second-order step (modifies ``proposal``).

    A walker with a previous node :math:`t` and a live first-order proposal :math:`x`
    accepts it with probability :math:`\alpha_{pq}(t, x) / \max(1/p, 1, 1/q)`; rejected
    walkers draw fresh i.i.d. first-order proposals and keep the first one they accept,
    which is exactly sequential rejection. Only pending walkers take part in a round, and
    once they are few each draws :math:`K = \min(16, \lfloor B / P \rfloor)` proposals
    per round (:math:`P` pending, :math:`B` a per-device budget), so the geometric tail
    of slow walkers costs few rounds of bounded size. A walker at a node of out-degree 1 has
    one possible move and accepts at once. After ``max_rounds`` proposals the last one is
    kept.
    """
    inv_p, inv_q = 1.0 / p, 1.0 / q
    bound = max(inv_p, 1.0, inv_q)
    live = (proposal >= 0) & (previous >= 0)
    live &= graph.out_degree[current.clamp(min=0)] > 1
    pending = live.nonzero().view(-1)
    budget = _PROPOSAL_BUDGET_CUDA if current.is_cuda else _PROPOSAL_BUDGET_CPU
    candidates = proposal[pending].unsqueeze(1)  # [P, K] proposals of the pending walkers
    used = 1
    while pending.numel():
        back = previous[pending].unsqueeze(1)
        query = back * graph.num_targets + candidates
        pos = torch.searchsorted(graph.keys, query).clamp_(max=graph.num_edges - 1)
        alpha = torch.full(candidates.shape, inv_q, dtype=WEIGHT_DTYPE,
                           device=candidates.device)
        alpha = torch.where(graph.keys[pos] == query, 1.0, alpha)  # t -> x is an edge
        alpha = torch.where(candidates == back, inv_p, alpha)
        draw = torch.rand(candidates.shape, generator=generator, dtype=WEIGHT_DTYPE,
                          device=candidates.device)
        accept = draw * bound < alpha
        if used >= max_rounds:
            accept[:, -1] = True  # the cap: keep the last proposal
        accepted = accept.any(1)
        first = accept.to(torch.uint8).argmax(1)  # the first accepted proposal of a row
        proposal[pending[accepted]] = candidates[accepted, first[accepted]]
        pending = pending[~accepted]
        if pending.numel() == 0:
            break
        per_walker = max(1, min(16, budget // pending.numel(), max_rounds - used))
        nodes = current[pending].repeat_interleave(per_walker)
        candidates = graph.step(nodes, weighted=weighted, generator=generator).view(
            -1, per_walker)
        used += per_walker
    return proposal


def random_walks(
    graph: WalkGraph,
    start: Tensor | Sequence[int],
    length: int,
    *,
    weighted: bool = False,
    p: float = 1.0,
    q: float = 1.0,
    restart_prob: float = 0.0,
    generator: torch.Generator | None = None,
    max_rounds: int = 100,
) -> Tensor:
    r"""Random walks from every node of ``start``, all walkers advanced together.

    At each step a walker at :math:`v` (which came from :math:`t`):

    1. with probability ``restart_prob`` jumps back to its start node (random walk with
       restart: visit frequencies estimate personalised PageRank, see
       :func:`visit_counts`); the jump is not an edge and the next step is first-order;
    2. otherwise moves along an out-edge, first-order (uniform, or :math:`\propto w_{vx}`
       when ``weighted``) or, when :math:`(p, q) \ne (1, 1)`, with node2vec's second-order
       bias

       .. math::
           P(x \mid t, v) \propto w_{vx}\, \alpha_{pq}(t, x), \qquad
           \alpha_{pq}(t, x) = \begin{cases} 1/p & x = t \\ 1 & t \to x
           \text{ is an edge} \\ 1/q & \text{otherwise} \end{cases}

       (:math:`w \equiv 1` unless ``weighted``; "is an edge" reads the graph as undirected
       by testing ``has_edge(t, x)``). It is sampled by rejection: propose :math:`x` from
       the first-order distribution, accept with probability
       :math:`\alpha_{pq}(t, x) / \max(1/p, 1, 1/q)`, re-propose for the rejected walkers
       only. The first step of a walk (and the step after a restart) is first-order;
    3. a walker whose node has no out-edge (weighted: no positive-weight out-edge) and
       that does not restart stops; its remaining entries are ``-1`` for good.

    Args:
        graph: a square :class:`WalkGraph`.
        start: ``[W]`` start nodes (repeat a node to run several walks from it).
        length: steps per walk, :math:`L \ge 0`.
        weighted: edge-weight-proportional transitions (the graph needs weights).
        p, q: node2vec return and in-out parameters (positive); ``1, 1`` is first-order.
        restart_prob: probability of jumping back to the start at each step, in
            :math:`[0, 1]`.
        generator: random source; must live on ``graph.device``.
        max_rounds: cap on node2vec proposals per step and walker: a walker still rejected
            after ``max_rounds`` proposals keeps the last one (so that step is
            first-order). Each proposal is accepted with probability at least
            :math:`\min(1/p, 1, 1/q) / \max(1/p, 1, 1/q)`, so for moderate :math:`p, q`
            the cap is never reached in practice (e.g. :math:`p = 4, q = 1/4`: at worst
            :math:`(15/16)^{100} < 0.002` for a walker whose only proposals are returns).

    Returns:
        ``[W, L + 1]`` int64 walks on ``graph.device``; column 0 is ``start``.

    Raises:
        ValueError: non-square graph, start ids out of range, bad parameters, weighted
            walks on an unweighted graph, generator on another device.
    """
    if not graph.is_square:
        raise ValueError(f"random_walks needs a square graph (got {graph.num_nodes} sources, "
                         f"{graph.num_targets} targets); see MetapathWalker for relations")
    length = _check_length(length)
    if not (p > 0 and q > 0):
        raise ValueError(f"p and q must be positive (got p={p!r}, q={q!r})")
    if not 0.0 <= restart_prob <= 1.0:
        raise ValueError(f"restart_prob must lie in [0, 1] (got {restart_prob!r})")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise ValueError(f"max_rounds must be a positive int (got {max_rounds!r})")
    if weighted and not graph.is_weighted:
        raise ValueError("weighted=True needs edge weights; this graph has none")
    device = graph.device
    _check_generator(generator, device)
    start = _as_index(start, "start", device).reshape(-1)
    _check_range(start, graph.num_nodes, "start")

    walks = torch.full((start.numel(), length + 1), -1, dtype=torch.long, device=device)
    walks[:, 0] = start
    second_order = p != 1.0 or q != 1.0
    current, previous = start, torch.full_like(start, -1)
    for t in range(1, length + 1):
        moving = current
        if restart_prob > 0.0:
            draw = torch.rand(start.shape, generator=generator, dtype=WEIGHT_DTYPE,
                              device=device)
            jump = (draw < restart_prob) & (current >= 0)
            moving = torch.where(jump, -1, current)
        nxt = graph.step(moving, weighted=weighted, generator=generator)
        if second_order:
            nxt = _node2vec_accept(graph, moving, previous, nxt, weighted, p, q, max_rounds,
                                   generator)
        previous = moving  # -1 after a jump: the next step is first-order
        if restart_prob > 0.0:
            nxt = torch.where(jump, start, nxt)
        walks[:, t] = nxt
        current = nxt
    return walks


@dataclass
class VisitCounts:
    r"""Visit counts of walks with restart, per (start, node), in COO form.

    Entries are sorted by (``start_index``, ``node``) and have ``count >= 1``.

    Attributes:
        start_index: ``[M]`` int64 position in the ``start`` tensor the walks began from.
        node: ``[M]`` int64 visited node.
        count: ``[M]`` int64 number of visits.
        num_starts: :math:`S`, the number of start nodes.
        num_nodes: :math:`N`.
    """

    start_index: Tensor
    node: Tensor
    count: Tensor
    num_starts: int
    num_nodes: int

    def to_sparse(self) -> Tensor:
        """Coalesced ``torch.sparse_coo`` matrix ``[S, N]`` of int64 counts."""
        return torch.sparse_coo_tensor(torch.stack([self.start_index, self.node]), self.count,
                                       (self.num_starts, self.num_nodes),
                                       check_invariants=False, is_coalesced=True)

    def to_dense(self) -> Tensor:
        """``[S, N]`` int64 counts (small graphs and tests only)."""
        dense = torch.zeros(self.num_starts, self.num_nodes, dtype=torch.long,
                            device=self.count.device)
        dense[self.start_index, self.node] = self.count
        return dense

    def totals(self) -> Tensor:
        """``[S]`` total counted visits per start."""
        return torch.zeros(self.num_starts, dtype=torch.long,
                           device=self.count.device).index_add_(0, self.start_index,
                                                                self.count)


def visit_counts(
    graph: WalkGraph,
    start: Tensor | Sequence[int],
    num_walks: int,
    length: int,
    restart_prob: float,
    *,
    weighted: bool = False,
    generator: torch.Generator | None = None,
    exclude_start: bool = True,
) -> VisitCounts:
    r"""Monte-Carlo personalised PageRank: visit counts of walks with restart.

    From every node :math:`s` of ``start``, ``num_walks`` walks of ``length`` steps with
    restart probability :math:`\alpha` (:func:`random_walks`) are run, and the visits of
    steps :math:`1..L` are counted per (start, node). As :math:`L \to \infty` the
    normalised counts converge to the personalised PageRank vector

    .. math::
        \pi_s = \alpha\, e_s + (1 - \alpha)\, \pi_s P, \qquad P_{vx} = w_{vx} / W_v

    (:math:`w \equiv 1` unless ``weighted``); the bias of a finite walk (it starts *at*
    :math:`s` rather than in :math:`\pi_s`) is :math:`O(1 / (\alpha L))` in L1. Walkers
    that reach a dead end stop (:func:`random_walks`), so on graphs with dead ends the
    counts describe that stopped process.

    Args:
        graph: a square :class:`WalkGraph`.
        start: ``[S]`` start nodes.
        num_walks: walks per start node.
        length: steps per walk.
        restart_prob: :math:`\alpha` in :math:`[0, 1]`.
        weighted: edge-weight-proportional transitions.
        generator: random source on the graph's device.
        exclude_start: drop visits of the start node itself (PinSAGE's neighbourhoods
            leave the node out); with ``False`` the counts estimate :math:`\pi_s` itself.

    Returns:
        :class:`VisitCounts` (COO, sorted by start then node); :func:`top_visited` turns it
        into top-:math:`k` neighbourhoods.
    """
    if isinstance(num_walks, bool) or not isinstance(num_walks, int) or num_walks < 1:
        raise ValueError(f"num_walks must be a positive int (got {num_walks!r})")
    device = graph.device
    start = _as_index(start, "start", device).reshape(-1)
    walkers = start.repeat_interleave(num_walks)
    walks = random_walks(graph, walkers, length, weighted=weighted,
                         restart_prob=restart_prob, generator=generator)
    visits = walks[:, 1:]
    owner = torch.arange(start.numel(), device=device).repeat_interleave(num_walks)
    keep = visits >= 0
    if exclude_start:
        keep &= visits != walkers.unsqueeze(1)
    keys = (owner.unsqueeze(1) * graph.num_nodes + visits)[keep]
    keys, count = torch.unique(keys, sorted=True, return_counts=True)
    start_index = torch.div(keys, max(graph.num_nodes, 1), rounding_mode="floor")
    return VisitCounts(start_index, keys - start_index * graph.num_nodes, count,
                       start.numel(), graph.num_nodes)


def top_visited(
    counts: VisitCounts, k: int, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    r"""The ``k`` most visited nodes of each start and their L1-normalised weights.

    .. math::
        \text{weight}_{s, j} = c_{s, n_j} \Big/ \sum_{j' \le k} c_{s, n_{j'}}

    over the returned nodes only (PinSAGE's importance pooling weights). Ties are broken by
    the smaller node id.

    Args:
        counts: from :func:`visit_counts`.
        k: neighbourhood size.
        dtype: floating dtype of the weights.

    Returns:
        ``(nodes, weights)``, both ``[S, k]``: nodes by decreasing count, ``-1`` padding
        where a start visited fewer than ``k`` nodes (weight 0 there; a row without visits
        is all padding).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int (got {k!r})")
    device = counts.count.device
    num_starts = counts.num_starts
    nodes = torch.full((num_starts, k), -1, dtype=torch.long, device=device)
    weights = torch.zeros(num_starts, k, dtype=dtype, device=device)
    if counts.count.numel() == 0:
        return nodes, weights
    # one stable sort by (start asc, count desc); entries already go by node within a start
    ceiling = counts.count.max() + 1
    key = counts.start_index * ceiling + (ceiling - 1 - counts.count)
    order = torch.sort(key, stable=True).indices
    rows = counts.start_index[order]
    row_start = torch.zeros(num_starts + 1, dtype=torch.long, device=device)
    torch.cumsum(torch.bincount(rows, minlength=num_starts), 0, out=row_start[1:])
    rank = torch.arange(rows.numel(), device=device) - row_start[rows]
    keep = rank < k
    rows, rank, order = rows[keep], rank[keep], order[keep]
    nodes[rows, rank] = counts.node[order]
    weights[rows, rank] = counts.count[order].to(dtype)
    weights /= weights.sum(1, keepdim=True).clamp_(min=torch.finfo(dtype).tiny)
    return nodes, weights


class MetapathWalker:
    r"""Walks on a :class:`~torch_geometric.data.HeteroData` graph that follow a cycle of
    edge types, e.g. item → user → item (:data:`DEFAULT_METAPATH`).

    One :class:`WalkGraph` per edge type is built here and reused by every :meth:`walk`
    (build the walker once; :func:`metapath_walks` is the one-off form).

    Args:
        graph: the heterogeneous graph (e.g. from
            :func:`~graphrec.graph.build_interaction_graph`, which stores both
            ``('user', 'interacts', 'item')`` and ``('item', 'rev_interacts', 'user')``).
        metapath: edge types ``(src, rel, dst)``; each one's ``dst`` is the next one's
            ``src`` and the last ``dst`` is the first ``src`` (so the cycle repeats).

    Attributes:
        graphs: one rectangular :class:`WalkGraph` per metapath edge type (weights from the
            edge type's ``edge_weight`` when it has one).
        node_type: the node type walks start from and report.
    """

    def __init__(self, graph: HeteroData,
                 metapath: Sequence[EdgeType] = DEFAULT_METAPATH) -> None:
        metapath = tuple(tuple(edge_type) for edge_type in metapath)
        if not metapath or any(len(edge_type) != 3 for edge_type in metapath):
            raise ValueError("metapath must be a non-empty sequence of (src, rel, dst) edge "
                             f"types (got {metapath!r})")
        for edge_type in metapath:
            if edge_type not in graph.edge_types:
                raise ValueError(f"edge type {edge_type} is not in the graph (it has "
                                 f"{graph.edge_types}); add reverse edges, e.g. with "
                                 "torch_geometric.transforms.ToUndirected")
        for here, there in zip(metapath, metapath[1:] + metapath[:1], strict=True):
            if here[2] != there[0]:
                raise ValueError(f"metapath does not chain into a cycle: {here} ends at "
                                 f"{here[2]!r} but {there} starts at {there[0]!r}")
        self.metapath: tuple[EdgeType, ...] = metapath  # type: ignore[assignment]
        self.node_type = metapath[0][0]
        self.num_nodes = int(graph[self.node_type].num_nodes)
        self.graphs = [
            WalkGraph.from_edge_index(graph[edge_type].edge_index,
                                      (int(graph[edge_type[0]].num_nodes),
                                       int(graph[edge_type[2]].num_nodes)),
                                      graph[edge_type].get("edge_weight"))
            for edge_type in metapath
        ]

    @property
    def device(self) -> torch.device:
        return self.graphs[0].device

    def walk(
        self,
        start: Tensor | Sequence[int],
        length: int,
        *,
        weighted: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Walks of ``length`` metapath cycles from ``start`` (nodes of ``node_type``).

        Each of the :math:`L` steps follows every edge type of the metapath in turn
        (first-order, uniform or :math:`\propto` ``edge_weight``) and records only where
        the cycle ends, so the result holds ``node_type`` ids only.

        Returns:
            ``[W, L + 1]`` int64; column 0 is ``start``; ``-1`` from the first cycle that
            hits a node without out-edges of the required type.
        """
        length = _check_length(length)
        if weighted:
            missing = [et for et, g in zip(self.metapath, self.graphs, strict=True)
                       if not g.is_weighted]
            if missing:
                raise ValueError(f"weighted=True needs edge_weight on every metapath edge "
                                 f"type; missing on {missing}")
        device = self.device
        _check_generator(generator, device)
        start = _as_index(start, "start", device).reshape(-1)
        _check_range(start, self.num_nodes, f"start ({self.node_type!r} ids)")
        walks = torch.full((start.numel(), length + 1), -1, dtype=torch.long, device=device)
        walks[:, 0] = start
        current = start
        for t in range(1, length + 1):
            for relation in self.graphs:
                current = relation.step(current, weighted=weighted, generator=generator)
            walks[:, t] = current
        return walks

    def to(self, device: torch.device | str) -> MetapathWalker:
        """A copy on ``device`` (self when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        out = object.__new__(MetapathWalker)
        out.metapath, out.node_type, out.num_nodes = self.metapath, self.node_type, self.num_nodes
        out.graphs = [g.to(device) for g in self.graphs]
        return out

    def __repr__(self) -> str:
        path = " -> ".join([self.metapath[0][0]] + [et[2] for et in self.metapath])
        return f"MetapathWalker({path}, device={self.device})"


def metapath_walks(
    hetero_data: HeteroData | MetapathWalker,
    start_items: Tensor | Sequence[int],
    length: int,
    metapath: Sequence[EdgeType] = DEFAULT_METAPATH,
    *,
    weighted: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Item → user → item walks (or any cyclic ``metapath``) returning the item sequence.

    A thin wrapper over :class:`MetapathWalker`: it builds the per-edge-type graphs on every
    call unless handed a walker, so build one for repeated use. ``metapath`` is ignored
    when a walker is passed.

    Returns:
        ``[num_walkers, length + 1]`` int64 ids of the metapath's first node type (items by
        default); ``-1`` after a dead end.
    """
    walker = (hetero_data if isinstance(hetero_data, MetapathWalker)
              else MetapathWalker(hetero_data, metapath))
    return walker.walk(start_items, length, weighted=weighted, generator=generator)
