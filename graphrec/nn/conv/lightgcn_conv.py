"""LightGCN propagation as a PyG ``MessagePassing`` layer, on a cached normalised operator."""


from typing import Optional

import torch
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing

from graphrec.ops.backends import backend_names
from graphrec.ops.cache import GraphInput, OperatorCache, graph_edges, graph_requires_grad
from graphrec.ops.sparse import NORMALIZATIONS, SparseOperator

#: ``"spmm"``: the engine with its automatic (or globally forced) backend choice; any other
#: name forces that backend of :mod:`graphrec.ops.backends` for this layer.
BACKENDS = ("spmm", *backend_names())


class LightGCNConv(MessagePassing):
    r"""The parameter-free propagation of LightGCN, from `"LightGCN: Simplifying and
    Powering Graph Convolution Network for Recommendation"
    <https://arxiv.org/abs/2002.02126>`_ (He et al., SIGIR 2020), with two normalisations
    and an optional initial-embedding residual.

    .. math::
        \mathbf{x}^{(l+1)}_i = \sum_{j \in \mathcal{N}(i)} c_{ij}\, w_{ji}\, \mathbf{x}^{(l)}_j
        + \alpha\, \mathbf{x}^{(0)}_i

    with :math:`c_{ij} = 1/\sqrt{d_i d_j}` for ``normalize="sym"`` (the paper's
    :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`), or :math:`c_{ij} = 1/d_i` for
    ``normalize="row"`` (a mean over neighbours). On the user–item bipartite graph the
    row variant is :math:`\mathbf{U}^{(l+1)} = \mathbf{D}_u^{-1}\mathbf{R}\,\mathbf{V}^{(l)}
    + \alpha \mathbf{U}^{(0)}` and :math:`\mathbf{V}^{(l+1)} = \mathbf{D}_i^{-1}
    \mathbf{R}^\top \mathbf{U}^{(l)} + \alpha \mathbf{V}^{(0)}` (graphrec's design variant,
    used with :math:`\alpha = 0.1`). :math:`d_i` is the (weighted) in-degree of node
    :math:`i`; nodes without neighbours receive zeros (plus the residual).

    The graph is an ``edge_index`` :math:`(2, |\mathcal{E}|)` (plain or PyG's
    :class:`~torch_geometric.EdgeIndex`) with optional ``edge_weight``, or, as in PyG, a
    **transposed** sparse adjacency ``adj_t`` (``torch.sparse`` COO / CSR / CSC, or
    ``torch_sparse.SparseTensor``): entry :math:`(i, j)` is the edge :math:`j \to i`, its
    value is :math:`w_{ji}`, and the normalisation above is applied to it (as
    :class:`~torch_geometric.nn.conv.LGConv` does: ``"sym"`` equals ``LGConv()``,
    ``"none"`` equals ``LGConv(normalize=False)`` on every form).

    The normalised adjacency is cached (``cached=True``): it is reused only when the call
    passes the very same graph tensor object, unmodified (same ``_version``: in-place
    edits are seen), with the same ``edge_weight`` object and node count, on the same
    device (see :class:`~graphrec.ops.cache.OperatorCache`). Unlike PyG's
    ``GCNConv(cached=True)``, which keeps the first graph's normalisation whatever graph
    comes later, a new graph is always rebuilt, so caching is safe for graphs that change
    per call; a model that keeps its graph in a buffer builds the operator once.

    Args:
        normalize: ``"sym"`` (default), ``"row"`` or ``"none"``.
        alpha: weight :math:`\alpha` of the residual to ``x0`` (0 disables it).
        cached: reuse the normalised operator while the same graph object is passed
            (default ``True``); ``False`` rebuilds it on every call.
        backend: ``"spmm"`` (default): the propagation engine
            (:class:`~graphrec.ops.SparseOperator`: cached normalised matrix, cached
            transpose, backward = one more product) on the backend chosen by
            :func:`graphrec.ops.select_backend` (forced by :func:`graphrec.ops.set_backend`
            or ``GRAPHREC_BACKEND``, else the fastest measured on the input's device and
            dtype). A backend name (``"csr"``, ``"csr_reduce"``, ``"edge_index"``,
            ``"torch_sparse"``, ``"message_passing"``: PyG's gather–scatter ``message`` /
            ``aggregate``) forces that backend in the same engine. When ``edge_weight`` (or
            a sparse ``adj_t``'s values) requires a gradient, every backend falls back to
            PyG's autograd through ``message`` / ``aggregate`` so that the gradient reaches
            the weights.
        **kwargs: passed to :class:`~torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F)`, edge indices
          :math:`(2, |\mathcal{E}|)` or a sparse ``adj_t``
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`, optional edge weights
          :math:`(|\mathcal{E}|)` (edge indices only), optional initial features ``x0``
          :math:`(|\mathcal{V}|, F)`
        - **output:** node features :math:`(|\mathcal{V}|, F)`
    """

    def __init__(
        self,
        normalize: str = "sym",
        alpha: float = 0.0,
        cached: bool = True,
        backend: str = "spmm",
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS} (got {normalize!r})")
        if backend != "spmm" and backend not in backend_names():  # registered later too
            raise ValueError(f"backend must be one of {('spmm', *backend_names())} "
                             f"(got {backend!r})")
        self.normalize = normalize
        self.alpha = float(alpha)
        self.cached = cached
        self.backend = backend
        self.cache = OperatorCache(normalize, enabled=cached)

    def reset_parameters(self) -> None:
        """Drops the cached operator (the layer has no learnable parameters)."""
        super().reset_parameters()
        self.cache.clear()

    def operator(
        self, edge_index: GraphInput, num_nodes: int, edge_weight: Optional[Tensor] = None
    ) -> "SparseOperator":
        """The normalised operator for this graph (``edge_index`` or sparse ``adj_t``), from
        the cache when it is the same, unmodified graph object."""
        return self.cache.get(edge_index, num_nodes, edge_weight)

    def forward(
        self,
        x: Tensor,
        edge_index: GraphInput,
        edge_weight: Optional[Tensor] = None,
        x0: Optional[Tensor] = None,
    ) -> Tensor:
        if not graph_requires_grad(edge_index, edge_weight):
            operator = self.operator(edge_index, x.size(0), edge_weight)
            graph, edge_norm = operator.matrix, None  # the fused engine path needs no weights
        else:  # autograd through message/aggregate: the gradient reaches the weights
            src, dst, weight = graph_edges(edge_index, x.size(0), edge_weight)
            graph = torch.stack([src, dst])
            edge_norm = self._edge_norm(graph, x.size(0), weight)
        # One propagate call: PyG derives the compiled propagate signature from it.
        out = self.propagate(graph, x=x, edge_weight=edge_norm)
        if self.alpha != 0.0:
            if x0 is None:
                raise ValueError("alpha > 0 needs the initial features x0")
            out = out + self.alpha * x0
        return out

    def _edge_norm(
        self, edge_index: Tensor, num_nodes: int, edge_weight: Optional[Tensor]
    ) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        weight = (torch.ones(src.numel(), device=src.device, dtype=torch.float32)
                  if edge_weight is None else edge_weight)
        if self.normalize == "none":
            return weight
        degree = torch.zeros(num_nodes, device=src.device, dtype=weight.dtype)
        degree = degree.index_add(0, dst, weight)
        if self.normalize == "sym":
            inv_sqrt = degree.pow(-0.5).masked_fill(degree == 0, 0.0)
            return inv_sqrt[src] * weight * inv_sqrt[dst]
        return weight * degree.reciprocal().masked_fill(degree == 0, 0.0)[dst]

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        operator = self.cache.lookup(adj_t)
        return operator.matmul(x, backend=None if self.backend == "spmm" else self.backend)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(normalize={self.normalize!r}, alpha={self.alpha}, "
                f"backend={self.backend!r})")
