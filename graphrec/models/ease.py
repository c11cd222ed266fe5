"""EASE^R: the embarrassingly shallow autoencoder, a closed-form item-item regression."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.models.closed_form import ClosedFormRecommender
from graphrec.models.registry import register
from graphrec.ops.csr import csr_with_values

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


def ease_weights(gram: Tensor, reg_weight: float) -> Tensor:
    r"""EASE^R's :math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}(P))` with
    :math:`P = (G + \lambda I)^{-1}`, computed **in the memory of** ``gram`` (a symmetric
    square float32 or float64 tensor, CPU or GPU; overwritten and returned).

    ``torch.linalg`` (MKL's LAPACK on the CPU, cuSOLVER on a GPU) factorises and inverts
    through the matrix's transposed view: ``gram.mT`` is the same symmetric matrix in the
    column-major layout LAPACK works in, so ``cholesky_ex`` and ``cholesky_inverse`` write
    into it without a working copy (a C-ordered ``out`` would cost a second ``num_items²``
    matrix). Then each column is divided by :math:`-P_{jj}` in place. SciPy's LAPACK is not
    used: its OpenBLAS ``potrf`` crashed (SIGSEGV) on Gowalla's 40,981² float32 Gram matrix.
    """
    if gram.dim() != 2 or gram.size(0) != gram.size(1):
        raise ValueError("gram must be a square matrix")
    if gram.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"gram must be float32 or float64 (got {gram.dtype})")
    if not gram.is_contiguous():
        raise ValueError("gram must be contiguous (it is overwritten in place)")
    gram.diagonal().add_(reg_weight)
    column_major = gram.mT  # symmetric: the same matrix, in LAPACK's layout
    info = torch.empty((), dtype=torch.int32, device=gram.device)
    torch.linalg.cholesky_ex(column_major, out=(column_major, info))
    if int(info) != 0:
        raise torch.linalg.LinAlgError(f"Cholesky factorisation failed (info {int(info)})")
    torch.cholesky_inverse(column_major, out=column_major)  # the full symmetric P
    precision = gram
    diagonal = precision.diagonal().clone()
    precision.div_(-diagonal)  # B_ij = -P_ij / P_jj (columns scaled)
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
    :math:`B`, per batch). :meth:`fit` forms the dense Gram matrix :math:`X^\top X` and inverts
    it in place (:func:`ease_weights`: ``torch.linalg``, MKL's LAPACK on the CPU): the peak is
    one dense ``num_items²`` matrix (Gowalla, 40,981 items: 6.7 GB in float32) plus the sparse
    Gram product. :math:`B` is the buffer ``weight``.

    Args:
        num_users, num_items: index space sizes.
        reg_weight: :math:`\lambda > 0`. The default 80 is BARS's published Gowalla setting
            (Zhu et al., SIGIR 2022; their grid 1-500), with which graphrec gives BARS's
            figures to six digits. A validation carve-out of Gowalla's training file (20 % of
            each user's interactions) cannot separate 60-100: Recall@20 / NDCG@20 0.2074 /
            0.1423 (60), 0.2075 / 0.1420 (80), 0.2074 / 0.1417 (100), 0.2026 / 0.1378 (200).
            LastFM prefers 100 and ML-100K 500, their presets (``docs/models.md``).
        dtype: ``"float32"`` (half the memory; the default) or ``"float64"``.
    """

    def __init__(self, num_users: int, num_items: int, reg_weight: float = 80.0,
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
        gram = torch.from_numpy(gram)  # shares the NumPy memory on the CPU
        if self.device.type != "cpu":
            gram = gram.to(self.device)  # the host copy is freed below
        self.weight = ease_weights(gram, self.reg_weight)

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
