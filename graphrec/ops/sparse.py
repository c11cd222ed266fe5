"""Cached normalised sparse operators and their sparse-dense product with a cheap backward.

Graph recommenders spend their time multiplying a fixed normalised adjacency with
embeddings, at every training step. :class:`SparseOperator` builds the normalised
matrix once (CSR) together with its transpose (or notes that it is symmetric), and
:meth:`SparseOperator.matmul` is an autograd function whose backward is one more
sparse-dense product with that cached transpose — instead of the transpose-and-sort
that ``torch.sparse.mm``'s own backward performs on every call.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

NORMALIZATIONS = ("sym", "row", "none")


def _csr(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """CSR matrix from COO triplets (duplicates summed)."""
    coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape,
                                  check_invariants=False).coalesce()
    with warnings.catch_warnings():  # "CSR support is in beta": known, and tested here
        warnings.simplefilter("ignore", UserWarning)
        csr = coo.to_sparse_csr()
    return _compact_indices(csr)


def _compact_indices(csr: Tensor) -> Tensor:
    """The same CSR matrix with int32 indices when they fit.

    MKL's and cuSPARSE's SpMM take int32 indices; handed int64 ones, torch converts them on
    every call (measured: 5.0 ms vs 2.9 ms per LastFM-sized product on 2 CPU cores).
    """
    if csr.crow_indices().dtype == torch.int32 or max(csr.shape) >= 2**31 - 1 or (
            csr.values().numel() >= 2**31 - 1):
        return csr
    return torch.sparse_csr_tensor(csr.crow_indices().int(), csr.col_indices().int(),
                                   csr.values(), csr.shape, check_invariants=False)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, matrix: Tensor, matrix_t: Tensor) -> Tensor:  # type: ignore[override]
        ctx.matrix_t = matrix_t
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        # d(A x)/dx applied to grad_out is A^T grad_out: one SpMM with the cached transpose.
        return torch.sparse.mm(ctx.matrix_t, grad_out.contiguous()), None, None


class SparseOperator:
    r"""A fixed sparse matrix :math:`A \in \mathbb{R}^{n_{out} \times n_{in}}` kept in CSR
    with its transpose, for repeated products :math:`A X` with gradients w.r.t. :math:`X`.

    The matrix values are constants (no gradient flows into them).

    Args:
        matrix: a ``torch.sparse_csr`` tensor.
        matrix_t: its transpose in CSR, or ``None`` to compute it here.
        symmetric: ``True`` when ``matrix`` equals its transpose; the transpose is then
            not stored. ``None`` checks it.
    """

    def __init__(
        self, matrix: Tensor, matrix_t: Tensor | None = None, symmetric: bool | None = None
    ) -> None:
        if matrix.layout != torch.sparse_csr:
            raise ValueError(f"matrix must be sparse CSR (got layout {matrix.layout})")
        matrix = _compact_indices(matrix)
        self.matrix = matrix
        if matrix_t is None:
            coo = matrix.to_sparse_coo()
            matrix_t = _csr(coo.indices()[1], coo.indices()[0], coo.values(),
                            (matrix.shape[1], matrix.shape[0]))
        matrix_t = _compact_indices(matrix_t)
        if symmetric is None:
            symmetric = (
                matrix.shape[0] == matrix.shape[1]
                and torch.equal(matrix.crow_indices(), matrix_t.crow_indices())
                and torch.equal(matrix.col_indices(), matrix_t.col_indices())
                # not bitwise: A and A^T sum duplicates and scale in different orders
                and torch.allclose(matrix.values(), matrix_t.values(), rtol=1e-6, atol=0.0)
            )
        self.symmetric = bool(symmetric)
        self.matrix_t = matrix if self.symmetric else matrix_t
        self._by_dtype: dict[torch.dtype, tuple[Tensor, Tensor]] = {
            matrix.dtype: (self.matrix, self.matrix_t)}

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

        Nodes without incoming edges get a zero row (no division by zero).
        """
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS} (got {normalize!r})")
        num_src, num_dst = (num_nodes, num_nodes) if isinstance(num_nodes, int) else num_nodes
        src, dst = edge_index[0], edge_index[1]
        weight = (torch.ones(src.numel(), device=src.device) if edge_weight is None
                  else edge_weight.to(torch.float32))
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
        matrix = _csr(dst, src, weight, (num_dst, num_src))
        matrix_t = _csr(src, dst, weight, (num_src, num_dst))
        return cls(matrix, matrix_t)

    @property
    def shape(self) -> torch.Size:
        return self.matrix.shape

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    @property
    def nnz(self) -> int:
        return int(self.matrix.values().numel())

    def _for_dtype(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if dtype not in self._by_dtype:
            def cast(m: Tensor) -> Tensor:
                return torch.sparse_csr_tensor(m.crow_indices(), m.col_indices(),
                                               m.values().to(dtype), m.shape,
                                               check_invariants=False)
            cast_matrix = cast(self.matrix)
            self._by_dtype[dtype] = (cast_matrix, cast_matrix if self.symmetric
                                     else cast(self.matrix_t))
        return self._by_dtype[dtype]

    def matmul(self, x: Tensor) -> Tensor:
        """:math:`A X` for dense ``x`` of shape ``[n_in, d]``; differentiable in ``x``."""
        matrix, matrix_t = self._for_dtype(x.dtype)
        return _SpMM.apply(x.contiguous(), matrix, matrix_t)

    def to(self, device: torch.device | str) -> SparseOperator:
        device = torch.device(device)
        if device == self.device:
            return self
        matrix = self.matrix.to(device)
        matrix_t = matrix if self.symmetric else self.matrix_t.to(device)
        return SparseOperator(matrix, matrix_t, symmetric=self.symmetric)

    def to_dense(self) -> Tensor:
        return self.matrix.to_dense()

    def __repr__(self) -> str:
        return (f"SparseOperator(shape={tuple(self.shape)}, nnz={self.nnz}, "
                f"symmetric={self.symmetric})")
