"""What the training-free models share: the training matrix, and a batch's rows of it.

ItemKNN, UserKNN, EASE^R, GF-CF and BSPM are fitted once, in closed form, from the binary
user × item training matrix :math:`R` (:meth:`ClosedFormRecommender.fit`, which the
:class:`~graphrec.train.Trainer` calls; there is nothing to train after it), and score a
batch of users from their training rows :math:`r_u` (:meth:`ClosedFormRecommender.history_rows`,
a sparse ``[B, num_items]`` CSR). The fitting runs in SciPy on the CPU; what scoring needs is
kept as tensors on the model's device (dense ones as buffers; sparse ones as attributes,
moved to the model's device when a scorer is made), so the products of ``scorer`` run there.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender
from graphrec.models.factorization import interaction_matrix
from graphrec.ops.csr import csr_tensor, csr_to, index_dtype_for


def scipy_to_csr(matrix: sp.spmatrix, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """A SciPy sparse matrix as a ``torch.sparse_csr`` tensor (sorted column indices, int32
    indices when they fit)."""
    matrix = sp.csr_matrix(matrix)
    matrix.sort_indices()
    index_dtype = index_dtype_for(matrix.shape, matrix.nnz)
    return csr_tensor(torch.from_numpy(matrix.indptr.astype(np.int64)).to(device, index_dtype),
                      torch.from_numpy(matrix.indices.astype(np.int64)).to(device, index_dtype),
                      torch.from_numpy(matrix.data).to(device, dtype), matrix.shape)


def csr_rows(matrix: Tensor, rows: Tensor) -> Tensor:
    """Rows ``rows`` of a CSR tensor, as a ``[len(rows), n_cols]`` CSR tensor (one gather,
    no loop over rows)."""
    crow = matrix.crow_indices().to(torch.int64)
    rows = rows.to(crow.device).view(-1).long()
    start = crow[rows]
    count = crow[rows + 1] - start
    out_crow = torch.zeros(rows.numel() + 1, dtype=torch.int64, device=crow.device)
    torch.cumsum(count, 0, out=out_crow[1:])
    total = int(out_crow[-1])
    owner = torch.repeat_interleave(torch.arange(rows.numel(), device=crow.device), count,
                                    output_size=total)
    index = start[owner] + torch.arange(total, device=crow.device) - out_crow[owner]
    index_dtype = index_dtype_for((rows.numel(), matrix.shape[1]), total)
    return csr_tensor(out_crow.to(index_dtype), matrix.col_indices()[index].to(index_dtype),
                      matrix.values()[index], (rows.numel(), matrix.shape[1]))


class ClosedFormRecommender(Recommender):
    """Base of the training-free models: built from a graph's sizes, fitted by :meth:`fit`,
    scored from the users' training rows.

    Subclasses implement :meth:`fit_matrix` (SciPy CSR :math:`R`, binary, float64 → whatever
    scoring needs, as tensors on :attr:`device`) and ``scorer``.
    """

    train_defaults: ClassVar[dict[str, Any]] = {}
    selects_on_validation: ClassVar[bool] = False

    def __init__(self, num_users: int, num_items: int) -> None:
        super().__init__()
        self.num_users, self.num_items = int(num_users), int(num_items)
        # training degree of each item; a buffer, so the model has a device before fit
        self.register_buffer("item_degree", torch.zeros(self.num_items))
        self.train_matrix: Tensor | None = None  # binary [num_users, num_items] CSR

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> ClosedFormRecommender:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def fit(self, train: Interactions) -> None:
        """Fits the closed form on the binary matrix of ``train`` (weights are ignored)."""
        if (train.num_users, train.num_items) != (self.num_users, self.num_items):
            raise ValueError(f"train has {train.num_users} users and {train.num_items} items; "
                             f"the model was built for {self.num_users} and {self.num_items}")
        matrix = interaction_matrix(train)
        self.item_degree.copy_(torch.from_numpy(np.asarray(matrix.sum(0)).ravel()))
        self.train_matrix = scipy_to_csr(matrix, self.device)
        self.fit_matrix(matrix)

    def fit_matrix(self, matrix: sp.csr_matrix) -> None:
        raise NotImplementedError

    def sparse_on_device(self, name: str) -> Tensor:
        """The CSR attribute ``name`` (set by :meth:`fit`) on the model's device (moved there
        once if the model moved after fitting)."""
        matrix = getattr(self, name)
        if matrix is None:
            raise RuntimeError(f"{type(self).__name__}: call fit(train) first (the Trainer does)")
        if matrix.device != self.device:
            matrix = csr_to(matrix, self.device)
            setattr(self, name, matrix)
        return matrix

    def history_rows(self, users: Tensor) -> Tensor:
        """The training rows :math:`r_u` of ``users`` as a binary ``[B, num_items]`` CSR
        tensor (float32, on the model's device)."""
        users = torch.as_tensor(users, device=self.device).view(-1).long()
        if users.numel() and (int(users.min()) < 0 or int(users.max()) >= self.num_users):
            raise ValueError(f"user index out of range [0, {self.num_users})")
        return csr_rows(self.sparse_on_device("train_matrix"), users)
