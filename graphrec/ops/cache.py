"""Per-layer caching of the normalised operator, shared by graphrec's propagation layers."""
from __future__ import annotations

from torch import Tensor

from graphrec.ops.sparse import SparseOperator


def _identity(tensor: Tensor | None) -> tuple:
    if tensor is None:
        return (None,)
    # data_ptr + shape + version: another tensor, another size or an in-place edit is a new graph
    return (tensor.data_ptr(), tuple(tensor.shape), tensor._version, tensor.device, tensor.dtype)


class OperatorCache:
    """Keeps the normalised :class:`SparseOperator` of the last graph a layer saw, like
    ``GCNConv(cached=True)``, and rebuilds it only when another graph, edge weight, node
    count or device is passed.

    Args:
        normalize: the operator's normalisation (see :meth:`SparseOperator.from_edge_index`).
        enabled: ``False`` builds the operator on every call (graphs that change per call).
    """

    def __init__(self, normalize: str, enabled: bool = True) -> None:
        self.normalize = normalize
        self.enabled = enabled
        self.key: tuple | None = None
        self.operator: SparseOperator | None = None
        self.active: SparseOperator | None = None

    def get(self, edge_index: Tensor, num_nodes: int,
            edge_weight: Tensor | None = None) -> SparseOperator:
        """The operator of this graph; it also becomes the one :meth:`lookup` returns."""
        key = (_identity(edge_index), _identity(edge_weight), num_nodes)
        if self.enabled and key == self.key and self.operator is not None:
            self.active = self.operator
            return self.operator
        operator = SparseOperator.from_edge_index(edge_index, num_nodes, edge_weight,
                                                  self.normalize)
        if self.enabled:
            self.key, self.operator = key, operator
        self.active = operator
        return operator

    def lookup(self, matrix: Tensor) -> SparseOperator:
        """The operator whose CSR matrix ``propagate`` handed to ``message_and_aggregate``;
        a sparse matrix passed to the layer directly is wrapped as it is."""
        if self.active is not None and self.active.matrix is matrix:
            return self.active
        return SparseOperator(matrix.to_sparse_csr())

    def clear(self) -> None:
        self.key = self.operator = self.active = None
