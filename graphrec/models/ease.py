"""EASE^R: the embarrassingly shallow autoencoder, a closed-form item-item regression."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import lapack
from torch import Tensor

from graphrec.models.closed_form import ClosedFormRecommender
from graphrec.models.registry import register
from graphrec.ops.csr import csr_with_values

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
#: rows per block when symmetrising and scaling the dense matrix in place
_BLOCK_ROWS = 1024


def ease_weights_lapack(gram: np.ndarray, reg_weight: float) -> np.ndarray:
    r"""EASE^R's :math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}(P))` with
    :math:`P = (G + \lambda I)^{-1}`, computed **in the memory of** ``gram`` (C-contiguous,
    symmetric, float32 or float64; overwritten and returned): LAPACK's Cholesky
    factorisation (``potrf``) and inverse from it (``potri``), both in place, then the upper
    triangle is mirrored and the columns scaled block by block. Peak memory is ``gram``
    plus a few row blocks.
    """
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1] or not gram.flags.c_contiguous:
        raise ValueError("gram must be a square C-contiguous matrix")
    if gram.dtype not in (np.float32, np.float64):
        raise ValueError(f"gram must be float32 or float64 (got {gram.dtype})")
    n = gram.shape[0]
    gram.flat[:: n + 1] += reg_weight
    prefix = "s" if gram.dtype == np.float32 else "d"
    potrf = getattr(lapack, f"{prefix}potrf")
    potri = getattr(lapack, f"{prefix}potri")
    # gram.T is the same symmetric matrix in Fortran order, so LAPACK works in place on it;
    # lower=False in Fortran order fills what is the lower triangle of the C-order array
    factor, info = potrf(gram.T, lower=False, clean=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed (LAPACK info {info})")
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverse from the Cholesky factor failed (info {info})")
    if not np.shares_memory(inverse, gram):  # the wrappers copy only on a layout mismatch
        gram[...] = inverse.T
    precision = gram  # its lower triangle (C order) holds P
    for start in range(0, n, _BLOCK_ROWS):  # mirror the lower triangle to the upper one
        stop = min(start + _BLOCK_ROWS, n)
        block = precision[start:stop, start:stop]
        block[...] = np.tril(block) + np.tril(block, -1).T
        precision[start:stop, stop:] = precision[stop:, start:stop].T
    diagonal = precision.diagonal().copy()
    for start in range(0, n, _BLOCK_ROWS):  # B_ij = -P_ij / P_jj, in place
        np.divide(precision[start:start + _BLOCK_ROWS], -diagonal,
                  out=precision[start:start + _BLOCK_ROWS])
    np.fill_diagonal(precision, 0.0)
    return precision


def ease_weights_torch(gram: Tensor, reg_weight: float) -> Tensor:
    r"""The same :math:`B` with ``torch.linalg`` (for GPUs): Cholesky factorisation and
    ``cholesky_inverse`` written over ``gram`` (overwritten and returned), then the column
    scaling in place."""
    if gram.dim() != 2 or gram.size(0) != gram.size(1):
        raise ValueError("gram must be a square matrix")
    gram.diagonal().add_(reg_weight)
    info = torch.empty((), dtype=torch.int32, device=gram.device)
    torch.linalg.cholesky_ex(gram, out=(gram, info))
    if int(info) != 0:
        raise torch.linalg.LinAlgError(f"Cholesky factorisation failed (info {int(info)})")
    precision = torch.cholesky_inverse(gram, out=gram)
    diagonal = precision.diagonal().clone()
    precision.div_(-diagonal)
    precision.fill_diagonal_(0.0)
    return precision


@register("ease")
class EASE(ClosedFormRecommender):
    r"""EASE^R, from `"Embarrassingly Shallow Autoencoders for Sparse Data"
    <https://arxiv.org/abs/1905.03375>`_ (Steck, WWW 2019): the item-item weights

    .. math::
        B = \arg\min_B \lVert X - XB \rVert_F^2 + \lambda \lVert B \rVert_F^2
            \ \text{s.t.}\ \mathrm{diag}(B) = 0
        \;\Rightarrow\; P = (X^\top X + \lambda I)^{-1},\quad
        B_{ij} = -P_{ij} / P_{jj}\ (i \neq j),\ B_{jj} = 0

    and scores :math:`\hat{\mathbf{y}}_u = \mathbf{x}_u B` (a sparse row times the dense
    :math:`B`, per batch). :meth:`fit` forms the dense Gram matrix :math:`X^\top X` and, on the
    CPU, inverts it in place with LAPACK (:func:`ease_weights_lapack`): the peak is one dense
    ``num_items²`` matrix (Gowalla, 40,981 items: 6.7 GB in float32) plus the sparse Gram
    product; on a GPU, ``torch.linalg`` (:func:`ease_weights_torch`, also in place).
    :math:`B` is the buffer ``weight``.

    Args:
        num_users, num_items: index space sizes.
        reg_weight: :math:`\lambda > 0`. 100 was best on validation carve-outs of LastFM and
            of Gowalla restricted to its 20,000 most popular items; ML-100K (denser items)
            prefers 200-500 (``docs/models.md``).
        dtype: ``"float32"`` (half the memory; the default) or ``"float64"``.
    """

    def __init__(self, num_users: int, num_items: int, reg_weight: float = 100.0,
                 dtype: str = "float32") -> None:
        super().__init__(num_users, num_items)
        if not reg_weight > 0:
            raise ValueError(f"reg_weight must be > 0 (got {reg_weight})")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)} (got {dtype!r})")
        self.reg_weight, self.dtype = float(reg_weight), dtype
        self.register_buffer("weight", torch.zeros(0, 0, dtype=DTYPES[dtype][1]))

    def fit_matrix(self, matrix: sp.csr_matrix) -> None:
        np_dtype, torch_dtype = DTYPES[self.dtype]
        self.weight = torch.empty(0, 0, dtype=torch_dtype, device=self.device)  # free old B
        binary = sp.csr_matrix(matrix, dtype=np_dtype)
        gram = (binary.T @ binary).toarray()  # the only dense num_items² matrix
        del binary
        if not gram.flags.c_contiguous:  # symmetric: its transpose is the same matrix
            gram = gram.T
        if self.device.type == "cpu":
            self.weight = torch.from_numpy(ease_weights_lapack(gram, self.reg_weight))
        else:
            gram = torch.from_numpy(gram).to(self.device)  # the host copy is freed here
            self.weight = ease_weights_torch(gram, self.reg_weight)

    def score_rows(self, rows: Tensor) -> Tensor:
        weight = self.weight
        if weight.shape != (self.num_items, self.num_items):
            raise RuntimeError("EASE: call fit(train) first (the Trainer does)")
        return torch.sparse.mm(csr_with_values(rows, rows.values().to(weight.dtype)), weight)

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Related items: row :math:`i` of :math:`B` (how much item :math:`i` predicts
        each item)."""
        return lambda items: self.weight[items.to(self.weight.device)]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_users}, {self.num_items}, "
                f"reg_weight={self.reg_weight}, dtype={self.dtype!r})")
