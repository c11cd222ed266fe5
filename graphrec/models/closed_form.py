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

from collections.abc import Callable
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
    scoring needs, as tensors on :attr:`device`) and :meth:`score_rows` (a batch's sparse
    rows → dense scores); :meth:`scorer` (training users) and :meth:`score_histories` (new
    users known by their items, :class:`~graphrec.models.saved.SavedModel`) both call it.

    Fitted state travels with the model's ``state_dict`` (what ``save`` writes): dense
    results as buffers, whose fitted shapes a load adopts (:meth:`_load_from_state_dict`), and
    the CSR attributes named in :attr:`sparse_state` as extra state (indptr, indices,
    values, shape), so a loaded model scores without refitting.
    """

    train_defaults: ClassVar[dict[str, Any]] = {}
    selects_on_validation: ClassVar[bool] = False
    #: CSR tensor attributes set by ``fit`` that scoring reads (saved as extra state)
    sparse_state: ClassVar[tuple[str, ...]] = ("train_matrix",)

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

    def score_rows(self, rows: Tensor) -> Tensor:
        """``[B, num_items]`` dense scores of users given by their binary item rows ``rows``
        (a ``[B, num_items]`` float32 CSR tensor on the model's device)."""
        raise NotImplementedError

    def scorer(self) -> Callable[[Tensor], Tensor]:
        self.sparse_on_device("train_matrix")  # fails early, before a batch, when unfitted
        return lambda users: self.score_rows(self.history_rows(users))

    def score_histories(self, histories: Interactions) -> Tensor:
        """New users scored exactly as training users with the same items would be: their
        binary rows through :meth:`score_rows`."""
        return self.score_rows(self.binary_rows(histories))

    def binary_rows(self, histories: Interactions) -> Tensor:
        """``histories`` (one row per new user, this model's item indices) as a binary
        ``[H, num_items]`` float32 CSR tensor on the model's device."""
        if histories.num_items != self.num_items:
            raise ValueError(f"histories index {histories.num_items} items; the model has "
                             f"{self.num_items}")
        matrix = interaction_matrix(histories)
        return scipy_to_csr(matrix, self.device)

    def get_extra_state(self) -> dict[str, Tensor]:
        """The fitted CSR attributes (:attr:`sparse_state`) as plain tensors (``{}`` before
        ``fit``)."""
        state = {}
        for name in self.sparse_state:
            matrix = getattr(self, name, None)
            if matrix is None:
                continue
            state[f"{name}.crow"] = matrix.crow_indices()
            state[f"{name}.col"] = matrix.col_indices()
            state[f"{name}.values"] = matrix.values()
            state[f"{name}.shape"] = torch.tensor(matrix.shape, dtype=torch.int64)
        return state

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        for name in self.sparse_state:
            if f"{name}.crow" not in state:
                setattr(self, name, None)
                continue
            shape = tuple(int(n) for n in state[f"{name}.shape"])
            setattr(self, name, csr_tensor(state[f"{name}.crow"].to(self.device),
                                           state[f"{name}.col"].to(self.device),
                                           state[f"{name}.values"].to(self.device), shape))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # fitted buffers have data-dependent shapes (EASE's B, the ideal filter's factors):
        # a model built before fit holds empty ones, so adopt the saved shape and dtype
        for name, buffer in self._buffers.items():
            saved = state_dict.get(prefix + name)
            if buffer is not None and saved is not None and saved.shape != buffer.shape:
                self._buffers[name] = torch.empty(saved.shape, dtype=saved.dtype,
                                                  device=buffer.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

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
