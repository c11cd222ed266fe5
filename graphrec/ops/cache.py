r"""Per-layer caching of the normalised operator, shared by graphrec's propagation layers,
and the graph inputs those layers accept.

A layer is handed its graph in any of PyG's forms:

- ``edge_index``: a ``[2, E]`` integer tensor, sources in row 0, targets in row 1
  (PyG's ``source_to_target`` flow), with optional ``edge_weight`` ``[E]``;
- a :class:`torch_geometric.EdgeIndex` (the same, as PyG's index subclass);
- ``adj_t``: a ``torch.sparse`` adjacency (COO, CSR or CSC layout) or a
  ``torch_sparse.SparseTensor``, **transposed** as in PyG: entry ``(i, j)`` is the edge
  :math:`j \to i` (row = target), and its values are the edge weights.

:class:`OperatorCache` reuses the normalised operator only for the very same graph: the
same Python tensor object (held by a weak reference, so a freed tensor whose memory the
allocator hands to a new graph never matches) whose in-place version counter, shape,
device, dtype and storage are unchanged, with the same ``edge_weight`` object (same rules)
and the same number of nodes.
"""
from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.typing import SparseTensor

from graphrec.ops.sparse import SparseOperator

#: Every graph form a propagation layer accepts (see the module docstring).
GraphInput = Tensor | SparseTensor

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)
_INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def is_sparse_adjacency(graph: Any) -> bool:
    """``True`` for a ``torch.sparse`` tensor or a ``torch_sparse.SparseTensor`` (an
    ``adj_t``), ``False`` for an ``edge_index``."""
    return isinstance(graph, SparseTensor) or (isinstance(graph, Tensor)
                                               and graph.layout != torch.strided)


def _components(graph: Any) -> tuple[Tensor, ...]:
    """The dense tensors holding ``graph``'s data, whose storage and versions identify its
    contents (the wrapper of a sparse tensor or an :class:`EdgeIndex` has no storage)."""
    if isinstance(graph, SparseTensor):
        storage = graph.storage
        parts = (storage.row(), storage.col(), storage.value())
        return tuple(part for part in parts if part is not None)
    if isinstance(graph, EdgeIndex):
        return (graph.as_tensor(),)
    if graph.layout == torch.sparse_coo:
        return (graph._indices(), graph._values())
    if graph.layout == torch.sparse_csr:
        return (graph.crow_indices(), graph.col_indices(), graph.values())
    if graph.layout == torch.sparse_csc:
        return (graph.ccol_indices(), graph.row_indices(), graph.values())
    return (graph,)


def _trackable(graph: Any) -> bool:
    """Whether ``graph`` can be recognised later: it takes a weak reference, and it is no
    inference tensor (those keep no version counter: an in-place edit could not be seen)."""
    try:
        weakref.ref(graph)
    except TypeError:
        return False
    if isinstance(graph, Tensor) and graph.is_inference():
        return False
    return not any(part.is_inference() for part in _components(graph))


def _state(graph: Any) -> tuple:
    """Everything about ``graph`` that changes when its contents may have changed."""
    parts = tuple((part.data_ptr(), part._version, tuple(part.shape), part.dtype, part.device)
                  for part in _components(graph))
    if isinstance(graph, SparseTensor):
        return (type(graph), graph.sparse_sizes(), parts)
    # the wrapper's own version: in-place ops on an EdgeIndex / sparse tensor bump it
    return (type(graph), graph.layout, tuple(graph.shape), graph.device, graph.dtype,
            graph._version, parts)


class _Fingerprint:
    """Identity (weak reference) plus state of one input tensor, or of ``None``."""

    __slots__ = ("ref", "state")

    def __init__(self, graph: Any) -> None:
        self.ref = None if graph is None else weakref.ref(graph)
        self.state = None if graph is None else _state(graph)

    def matches(self, graph: Any) -> bool:
        if graph is None or self.ref is None:
            return graph is None and self.ref is None
        # ``is``: alive and the very same object, never another one at a reused address
        return self.ref() is graph and self.state == _state(graph)


def check_graph_type(graph: Any, edge_weight: Any = None, name: str = "edge_index") -> None:
    """Raises a ``TypeError`` naming ``name`` unless ``graph`` is one of the accepted forms
    and ``edge_weight`` a tensor or ``None``."""
    if not isinstance(graph, (Tensor, SparseTensor)):
        raise TypeError(f"{name} must be an edge_index tensor [2, E], an EdgeIndex, a "
                        f"torch.sparse adj_t or a torch_sparse.SparseTensor (got "
                        f"{type(graph).__name__})")
    if edge_weight is not None and not isinstance(edge_weight, Tensor):
        raise TypeError(f"edge_weight must be a tensor or None (got {type(edge_weight).__name__})")


def graph_requires_grad(graph: GraphInput, edge_weight: Tensor | None = None) -> bool:
    """Whether a gradient should reach the edge weights (``edge_weight`` or the values of
    a sparse ``adj_t``) in the current autograd mode."""
    check_graph_type(graph, edge_weight)
    if not torch.is_grad_enabled():
        return False
    if edge_weight is not None and edge_weight.requires_grad:
        return True
    if isinstance(graph, SparseTensor):
        value = graph.storage.value()
        return value is not None and value.requires_grad
    return is_sparse_adjacency(graph) and graph.requires_grad


def graph_edges(
    graph: GraphInput,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    name: str = "edge_index",
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""``(src, dst, weight)`` of a square graph on ``num_nodes`` nodes, in any form of the
    module docstring, checked.

    For a sparse ``adj_t`` (row = target) ``dst`` are its rows, ``src`` its columns and
    ``weight`` its values (differentiable); ``edge_weight`` must then be ``None``.
    Duplicate entries are kept (the operator sums them).

    Raises:
        TypeError: ``graph`` is none of the accepted forms (see :func:`check_graph_type`).
        ValueError: wrong shape or dtype, indices out of ``[0, num_nodes)``, or both a
            sparse ``adj_t`` and an ``edge_weight``.
    """
    check_graph_type(graph, edge_weight, name)
    if is_sparse_adjacency(graph):
        if edge_weight is not None:
            raise ValueError(f"edge_weight must be None when {name} is a sparse adjacency "
                             "(its values are the edge weights)")
        if isinstance(graph, SparseTensor):
            shape = tuple(graph.sparse_sizes())
        else:
            if graph.layout not in _SPARSE_LAYOUTS or graph.dim() != 2 or graph.dense_dim():
                raise ValueError(f"{name} as a torch.sparse adjacency must be a 2-D COO, CSR "
                                 f"or CSC matrix without dense dimensions (got layout "
                                 f"{graph.layout}, shape {tuple(graph.shape)})")
            shape = tuple(graph.shape)
        if shape != (num_nodes, num_nodes):
            raise ValueError(f"{name} as a sparse adjacency must be [num_nodes, num_nodes] = "
                             f"[{num_nodes}, {num_nodes}] (got {list(shape)})")
        if isinstance(graph, SparseTensor):
            dst, src, weight = graph.coo()
            if weight is not None and weight.dim() != 1:
                raise ValueError(f"{name} (SparseTensor) must have one value per entry "
                                 f"(got values of shape {list(weight.shape)})")
        elif graph.layout == torch.sparse_csr:
            crow = graph.crow_indices().to(torch.int64)
            dst = torch.repeat_interleave(torch.arange(num_nodes, device=crow.device),
                                          crow.diff(), output_size=graph.values().numel())
            src, weight = graph.col_indices(), graph.values()
        else:  # COO, or CSC through COO
            coo = graph.to_sparse_coo() if graph.layout == torch.sparse_csc else graph
            if coo.requires_grad:  # ``values()`` is differentiable but needs coalescing
                coo = coo.coalesce()
                indices, weight = coo.indices(), coo.values()
            else:  # duplicates, if any, are summed by the operator
                indices, weight = coo._indices(), coo._values()
            dst, src = indices[0], indices[1]
        return src.to(torch.int64), dst.to(torch.int64), weight
    if isinstance(graph, EdgeIndex):
        sizes = graph.sparse_size()
        if any(size is not None and size != num_nodes for size in sizes):
            raise ValueError(f"{name} (EdgeIndex) has sparse_size {sizes}, but the graph "
                             f"has {num_nodes} nodes (x.size(0))")
        graph = graph.as_tensor()
    if graph.dim() != 2 or graph.size(0) != 2 or graph.dtype not in _INDEX_DTYPES:
        raise ValueError(f"{name} must be an integer tensor of shape [2, E] (got dtype "
                         f"{graph.dtype}, shape {list(graph.shape)})")
    if graph.numel():
        low, high = (int(value) for value in torch.aminmax(graph))
        if low < 0 or high >= num_nodes:
            raise ValueError(f"{name} has node indices outside [0, {num_nodes}) (range "
                             f"[{low}, {high}])")
    if edge_weight is not None and tuple(edge_weight.shape) != (graph.size(1),):
        raise ValueError(f"edge_weight must have shape [E] = [{graph.size(1)}] (got "
                         f"{list(edge_weight.shape)})")
    return graph[0], graph[1], edge_weight


class OperatorCache:
    """Keeps the normalised :class:`SparseOperator` of the last graph a layer saw and
    reuses it only for the very same graph.

    A hit needs the same ``edge_index`` / ``adj_t`` *object* (checked through a weak
    reference: alive and ``is`` the cached one, so a new tensor that the allocator placed
    in the freed memory of the old one is a miss), unmodified (its ``_version``, and those
    of a sparse tensor's index and value tensors, unchanged: in-place edits are seen), with
    the same shape, device, dtype and storage, the same ``edge_weight`` object under the
    same rules (or ``None`` both times), and the same ``num_nodes``. This is PyG's
    ``GCNConv(cached=True)`` made safe: PyG reuses the first graph's normalisation for
    every later call whatever graph is passed; here another graph is always rebuilt, so
    caching can stay on for graphs that change per call (each call then builds once).

    Not seen: edits that bypass the version counter (through ``tensor.data``, NumPy or
    DLPack views); tensors created under ``torch.inference_mode`` have no version counter
    and are never cached.

    Args:
        normalize: the operator's normalisation (see :meth:`SparseOperator.from_edge_index`).
        enabled: ``False`` builds the operator on every call.
    """

    def __init__(self, normalize: str, enabled: bool = True) -> None:
        self.normalize = normalize
        self.enabled = enabled
        self.clear()

    def get(self, graph: GraphInput, num_nodes: int,
            edge_weight: Tensor | None = None) -> SparseOperator:
        """The operator of this graph (any form of the module docstring); it also becomes
        the one :meth:`lookup` returns."""
        check_graph_type(graph, edge_weight)
        if self.hit(graph, num_nodes, edge_weight):
            self.active = self.operator
            return self.operator
        cacheable = self.enabled and _trackable(graph) and (
            edge_weight is None or _trackable(edge_weight))
        # fingerprints taken before building: the state the operator is built from
        keys = (_Fingerprint(graph), _Fingerprint(edge_weight)) if cacheable else None
        src, dst, weight = graph_edges(graph, num_nodes, edge_weight)
        operator = SparseOperator.from_edge_index(torch.stack([src, dst]), num_nodes, weight,
                                                  self.normalize)
        if cacheable:
            self.graph_key, self.weight_key = keys
            self.num_nodes, self.operator = num_nodes, operator
        else:
            self.clear()
        self.active = operator
        return operator

    def hit(self, graph: GraphInput, num_nodes: int,
            edge_weight: Tensor | None = None) -> bool:
        """Whether :meth:`get` would return the cached operator for these inputs."""
        return (self.enabled and self.operator is not None and self.num_nodes == num_nodes
                and self.graph_key.matches(graph) and self.weight_key.matches(edge_weight))

    def lookup(self, matrix: Tensor) -> SparseOperator:
        """The operator whose CSR matrix ``propagate`` handed to ``message_and_aggregate``;
        a sparse matrix passed to the layer directly is wrapped as it is."""
        if self.active is not None and self.active.matrix is matrix:
            return self.active
        return SparseOperator(matrix.to_sparse_csr())

    def clear(self) -> None:
        self.graph_key: _Fingerprint | None = None
        self.weight_key: _Fingerprint | None = None
        self.num_nodes: int | None = None
        self.operator: SparseOperator | None = None
        self.active: SparseOperator | None = None
