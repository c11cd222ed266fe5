r"""Cached normalised sparse operators and their sparse–dense product with a cheap backward.

Graph recommenders spend their time multiplying a fixed normalised adjacency with
embeddings, at every training step. :class:`SparseOperator` builds the normalised
matrix once (CSR, int32 indices) together with its transpose (or notes that it is
symmetric and reuses it), and :meth:`SparseOperator.matmul` is one autograd function:

.. math::
    \text{forward: } Y = A X, \qquad \text{backward: } \frac{\partial L}{\partial X} =
    A^\top \frac{\partial L}{\partial Y}

i.e. forward + backward is two sparse–dense products with cached matrices, instead of
the transpose-and-sort that ``torch.sparse.mm``'s own backward performs on every call or
the :math:`O(nnz \cdot d)` gather–scatter tensors of autograd through message passing.
The product itself runs on one of the backends of :mod:`graphrec.ops.backends` (the
fastest measured one by default); each backend's form of :math:`A` and :math:`A^\top` is
built once per device and dtype and cached on the operator.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphrec.ops.backends import SpMMBackend, get_backend_impl, select_backend
from graphrec.ops.csr import compact_indices, csr_from_coo, csr_to, csr_transpose

NORMALIZATIONS = ("sym", "row", "none")


class _Propagate(torch.autograd.Function):
    """``A @ x`` with backward ``A^T @ grad`` (itself differentiable: double backward
    swaps the two cached matrices again)."""

    @staticmethod
    def forward(ctx, x: Tensor, backend: SpMMBackend, handle: Any,  # type: ignore[override]
                handle_t: Any) -> Tensor:
        ctx.backend, ctx.handles = backend, (handle, handle_t)
        return backend.spmm(handle, x)

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        handle, handle_t = ctx.handles
        grad_x = _Propagate.apply(grad_out.contiguous(), ctx.backend, handle_t, handle)
        return grad_x, None, None, None


class SparseOperator:
    r"""A fixed sparse matrix :math:`A \in \mathbb{R}^{n_{out} \times n_{in}}` kept in CSR
    with its transpose, for repeated products :math:`A X` with gradients w.r.t. :math:`X`.

    The matrix values are constants (no gradient flows into them).

    Args:
        matrix: a ``torch.sparse_csr`` tensor (indices become int32 when they fit).
        matrix_t: its transpose in CSR, or ``None`` to compute it here.
        symmetric: ``True`` when ``matrix`` equals its transpose; the transpose is then
            not stored. ``None`` checks it.

    Attributes:
        matrix: :math:`A` (CSR, float32 values unless built otherwise).
        matrix_t: :math:`A^\top` (the same object as ``matrix`` when symmetric).
        symmetric: whether :math:`A = A^\top` (up to rounding of the normalisation).
    """

    def __init__(
        self, matrix: Tensor, matrix_t: Tensor | None = None, symmetric: bool | None = None
    ) -> None:
        if matrix.layout != torch.sparse_csr:
            raise ValueError(f"matrix must be sparse CSR (got layout {matrix.layout})")
        matrix = compact_indices(matrix)
        self.matrix = matrix
        if symmetric and matrix_t is None:
            matrix_t = matrix
        if matrix_t is None:
            matrix_t = csr_transpose(matrix)
        matrix_t = compact_indices(matrix_t)
        if symmetric is None:
            symmetric = matrix_t is matrix or (
                matrix.shape[0] == matrix.shape[1]
                and torch.equal(matrix.crow_indices(), matrix_t.crow_indices())
                and torch.equal(matrix.col_indices(), matrix_t.col_indices())
                # not bitwise: A and A^T sum duplicates and scale in different orders
                and torch.allclose(matrix.values(), matrix_t.values(), rtol=1e-6, atol=0.0)
            )
        self.symmetric = bool(symmetric)
        self.matrix_t = matrix if self.symmetric else matrix_t
        # (backend, device, dtype) -> the backend's forms of (A, A^T), built on first use
        self._handles: dict[tuple[str, torch.device, torch.dtype], tuple[Any, Any]] = {}

    @classmethod
    def from_edge_index(
        cls,
        edge_index: Tensor,
        num_nodes: int | tuple[int, int],
        edge_weight: Tensor | None = None,
        normalize: str = "sym",
    ) -> SparseOperator:
        r"""The normalised adjacency of a graph in PyG's ``source_to_target`` convention.

        ``edge_index[0]`` are sources :math:`j`, ``edge_index[1]`` targets :math:`i`; the
        operator's row :math:`i` gathers from the sources of :math:`i`:

        - ``"sym"``: :math:`A_{ij} = w_{ji} / \sqrt{d_i d_j}` with :math:`d` the weighted
          in-degree (PyG's ``gcn_norm`` without self-loops);
        - ``"row"``: :math:`A_{ij} = w_{ji} / d_i`, the mean over incoming neighbours;
        - ``"none"``: :math:`A_{ij} = w_{ji}`.

        Nodes without incoming edges get a zero row (no division by zero). Duplicate
        edges are summed. ``num_nodes`` is :math:`n` or ``(num_sources, num_targets)``.
        """
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS} (got {normalize!r})")
        num_src, num_dst = (num_nodes, num_nodes) if isinstance(num_nodes, int) else num_nodes
        src, dst = edge_index[0], edge_index[1]
        weight = (torch.ones(src.numel(), device=src.device) if edge_weight is None
                  else edge_weight.detach().to(torch.float32))
        if normalize != "none":
            in_degree = torch.zeros(num_dst, device=src.device).index_add_(0, dst, weight)
            if normalize == "sym":
                if num_src != num_dst:
                    raise ValueError("'sym' normalisation needs a square operator")
                inv_sqrt = in_degree.pow(-0.5).masked_fill_(in_degree == 0, 0.0)
                weight = inv_sqrt[dst] * weight * inv_sqrt[src]
            else:
                inv = in_degree.reciprocal().masked_fill_(in_degree == 0, 0.0)
                weight = inv[dst] * weight
        matrix = csr_from_coo(dst, src, weight, (num_dst, num_src))
        return cls(matrix)

    @property
    def shape(self) -> torch.Size:
        return self.matrix.shape

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    @property
    def nnz(self) -> int:
        return int(self.matrix.values().numel())

    def handles(self, backend: str, device: torch.device, dtype: torch.dtype
                ) -> tuple[Any, Any]:
        """Backend ``backend``'s forms of :math:`(A, A^\\top)` on ``device`` in ``dtype``,
        built on first use and cached (moving and casting happen once, not per call)."""
        key = (backend, device, dtype)
        cached = self._handles.get(key)
        if cached is None:
            impl = get_backend_impl(backend)
            with torch.no_grad():
                handle = impl.prepare(csr_to(self.matrix, device, dtype))
                handle_t = handle if self.symmetric else impl.prepare(
                    csr_to(self.matrix_t, device, dtype))
            cached = self._handles[key] = (handle, handle_t)
        return cached

    def matmul(self, x: Tensor, backend: str | None = None) -> Tensor:
        r""":math:`A X` for dense ``x`` of shape ``[n_in, d]`` (or ``[n_in]``);
        differentiable in ``x`` (backward: :math:`A^\top` times the gradient, same backend).

        Args:
            x: dense input on any device, any floating dtype the backend supports.
            backend: a backend name of :mod:`graphrec.ops.backends` to force; ``None``
                uses :func:`~graphrec.ops.select_backend` (global setting, else the
                fastest measured on ``x``'s device and dtype).
        """
        if x.dim() == 1:
            return self.matmul(x.unsqueeze(-1), backend).squeeze(-1)
        if x.size(0) != self.matrix.shape[1]:
            raise ValueError(f"x has {x.size(0)} rows, the operator {self.matrix.shape[1]} "
                             "columns")
        name = select_backend(x.device, x.dtype, backend)
        handle, handle_t = self.handles(name, x.device, x.dtype)
        return _Propagate.apply(x.contiguous(), get_backend_impl(name), handle, handle_t)

    def t(self) -> SparseOperator:
        """The transposed operator :math:`A^\\top` (shares the cached matrices)."""
        return SparseOperator(self.matrix_t, self.matrix, symmetric=self.symmetric)

    def to(self, device: torch.device | str) -> SparseOperator:
        device = torch.device(device)
        if device == self.device:
            return self
        matrix = csr_to(self.matrix, device)
        matrix_t = matrix if self.symmetric else csr_to(self.matrix_t, device)
        return SparseOperator(matrix, matrix_t, symmetric=self.symmetric)

    def to_dense(self) -> Tensor:
        return self.matrix.to_dense()

    def __repr__(self) -> str:
        return (f"SparseOperator(shape={tuple(self.shape)}, nnz={self.nnz}, "
                f"symmetric={self.symmetric})")
