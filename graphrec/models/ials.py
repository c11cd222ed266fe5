"""iALS / WALS: confidence-weighted matrix factorisation of implicit feedback by alternating
least squares, every user (item) of a half-step solved at once."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender
from graphrec.models.registry import register
from graphrec.ops.csr import csr_tensor, index_dtype_for

logger = logging.getLogger(__name__)

SOLVERS = ("cholesky", "cg")
WEIGHTINGS = ("binary", "linear", "log")

# Exact solves gather each chunk's rows padded to the chunk's largest degree, [B, L, d]:
# rows are grouped by degree (buckets a factor 1.25 wide, so padding costs at most 25 %) and
# split so that a chunk holds about this many (row, item) slots and its d x d systems at
# most this many floats.
_CHUNK_SLOTS = 1 << 16
_CHUNK_SYSTEM_FLOATS = 1 << 21
_BUCKET_RATIO = 1.25


@dataclass
class _Side:
    """One side of the alternation: the rows solved for (users, or items) and their
    observed columns, as CSR with per-entry confidences.

    Attributes:
        indptr, indices: CSR of the rows' observed columns.
        rows: ``[nnz]`` row of each entry.
        confidence: ``[nnz]`` :math:`c` of each entry.
        reg: ``[num_rows]`` per-row regularisation :math:`\\lambda_r`.
        chunks: the exact solver's ``(rows [B], columns [B, L], c - w0 [B, L])`` groups
            (padding points at an extra all-zero column with weight 0).
    """

    indptr: Tensor
    indices: Tensor
    rows: Tensor
    confidence: Tensor
    reg: Tensor
    chunks: list[tuple[Tensor, Tensor, Tensor]]
    num_columns: int

    def __post_init__(self) -> None:
        # the sparse products' indices: int32 where they fit on CUDA (cuSPARSE's), int64 on
        # CPU, where the SDDMM (sampled_addmm) measured 20 % faster with them
        index_dtype = (torch.int64 if self.indptr.device.type == "cpu" else
                       index_dtype_for((self.num_rows, self.num_columns), self.indices.numel()))
        self.crow = self.indptr.to(index_dtype)
        self.col = self.indices.to(index_dtype)

    @property
    def num_rows(self) -> int:
        return self.indptr.numel() - 1

    def pattern(self, dtype: torch.dtype) -> Tensor:
        """The rows' sparse ``[num_rows, num_columns]`` matrix of ones (an SDDMM's mask)."""
        ones = torch.ones(self.col.numel(), dtype=dtype, device=self.col.device)
        return csr_tensor(self.crow, self.col, ones, (self.num_rows, self.num_columns))

    def add_spmm(self, out: Tensor, values: Tensor, dense: Tensor) -> Tensor:
        """``out += M X`` in place, for the rows' sparse ``[num_rows, num_columns]`` matrix
        :math:`M` holding ``values`` at the observed entries (accumulating into a reused
        buffer measured 1.4-3.5x faster on CPU than a fresh ``torch.sparse.mm``)."""
        matrix = csr_tensor(self.crow, self.col, values, (self.num_rows, self.num_columns))
        return out.addmm_(matrix, dense)


@register("ials")
class IALS(Recommender):
    r"""iALS (WALS): confidence-weighted least squares on implicit feedback, from
    `"Collaborative Filtering for Implicit Feedback Datasets"
    <https://doi.org/10.1109/ICDM.2008.22>`_ (Hu, Koren and Volinsky, ICDM 2008), with the
    weighted-ALS generalisation of the unobserved entries' weight.

    With preferences :math:`p_{ui} = \mathbb{1}[r_{ui} > 0]`, confidences
    :math:`c_{ui} = 1 + \alpha r_{ui}` on the observed entries and weight :math:`w_0` on every
    unobserved one, :meth:`fit` minimises

    .. math::
        L(X, Y) = \sum_{(u,i) \in \mathcal{O}} c_{ui} (1 - \mathbf{x}_u^\top \mathbf{y}_i)^2
        + w_0 \sum_{(u,i) \notin \mathcal{O}} (\mathbf{x}_u^\top \mathbf{y}_i)^2
        + \sum_u \lambda_u \lVert \mathbf{x}_u \rVert^2
        + \sum_i \lambda_i \lVert \mathbf{y}_i \rVert^2

    by alternating exact minimisation over all users, then all items. A user's normal
    equations use the Gramian trick (the unobserved entries never appear):

    .. math::
        \bigl(w_0 Y^\top Y + \textstyle\sum_{i \in \mathcal{O}_u} (c_{ui} - w_0)
        \mathbf{y}_i \mathbf{y}_i^\top + \lambda_u I\bigr) \mathbf{x}_u
        = \textstyle\sum_{i \in \mathcal{O}_u} c_{ui} \mathbf{y}_i

    (items likewise). Mappings: :math:`w_0 = 1` is Hu–Koren–Volinsky's objective exactly
    (:math:`C_u - I` in their notation; ``implicit``'s ``AlternatingLeastSquares`` with its
    matrix holding :math:`1 + \alpha r_{ui}` and its ``alpha=1``, since ``implicit`` 0.7
    multiplies the matrix by its ``alpha`` and takes the product itself as :math:`c_{ui}`).
    WALS (e.g. TensorFlow's ``WALSMatrixFactorization``) is the same loss with
    ``unobserved_weight`` :math:`w_0` free. The iALS of Rendle et al. (`"Revisiting the
    Performance of iALS on Item Recommendation Benchmarks" <https://arxiv.org/abs/2110.14037>`_,
    RecSys 2022), :math:`\sum_{\mathcal{O}} (1 - \hat y)^2 + \alpha_0 \sum_{\text{all}} \hat
    y^2`, is :math:`c = 1 + \alpha_0`, :math:`w_0 = \alpha_0` and target
    :math:`1 / (1 + \alpha_0)` — the same ranking as target 1 with :math:`\lambda` scaled by
    :math:`1 + \alpha_0`, i.e. ``alpha`` :math:`= 1/\alpha_0`, ``unobserved_weight`` 1 after
    dividing the loss by :math:`\alpha_0`.

    Regularisation: :math:`\lambda_u = \lambda f_u^\nu / \overline{f^\nu}` with
    :math:`f_u = \sum_{i \in \mathcal{O}_u} c_{ui} + w_0 (|\mathcal{I}| - |\mathcal{O}_u|)`
    the total weight of the user's row (its frequency in Rendle et al.'s sense, where
    :math:`f_u = |\mathcal{I}_u| + \alpha_0 |\mathcal{I}|`) and :math:`\overline{f^\nu}` its
    mean over users (items likewise). :math:`\nu = 0` is the plain :math:`\lambda` of HKV and
    ``implicit``; :math:`\nu = 1` is Rendle et al.'s frequency-scaled regularisation
    (:math:`\nu = 1` with :math:`w_0 = 0` is Zhou et al.'s weighted-λ). Dividing by the mean
    keeps good :math:`\lambda` values on one scale for every :math:`\nu` (their "shifted
    regularisation scale" with reference :math:`\nu^* = 0`).

    Solvers (device-agnostic torch, no Python loop over users or items): ``"cholesky"``
    builds the :math:`d \times d` systems of degree-grouped chunks of rows with batched
    matrix products and solves them with ``torch.linalg.cholesky_ex``; ``"cg"`` takes
    ``cg_steps`` conjugate-gradient steps for all rows at once, warm-started from the current
    factors (Takács et al. 2011, ``implicit``'s ``use_cg``), each step one SDDMM and one CSR
    SpMM. Both decrease :math:`L` at every half-step (CG iterates from a warm start minimise
    the row's quadratic over a Krylov space containing the start).

    The factors are buffers, not parameters: the :class:`~graphrec.train.Trainer` only
    calls :meth:`fit`. Scores are :math:`\mathbf{x}_u^\top \mathbf{y}_i`.

    Defaults: tuned on validation carve-outs (10 % of each user's training interactions
    held out; never the test part) of Gowalla and LastFM (``docs/models.md``):
    :math:`d = 256`, :math:`\alpha = 100`, :math:`\lambda = 100` with :math:`\nu = 1`,
    :math:`w_0 = 1`, binary :math:`r`, 15 sweeps of 3 CG steps. As Rendle et al. found,
    width matters most (Gowalla validation Recall@20 0.160 / 0.183 / 0.202 at
    :math:`d` = 64 / 128 / 256), then :math:`\alpha`; :math:`\nu = 1` gains a little, more
    CG steps nothing. :math:`w_0` is kept for WALS compatibility but, with binary
    :math:`r`, is a reparametrisation: :math:`L(c, w_0, \lambda) = w_0 L(c / w_0, 1,
    \lambda / w_0)`, the same minimiser (with :math:`\nu \ne 0` too, the frequencies being
    normalised by their mean).

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: factor size :math:`d`.
        reg_weight: :math:`\lambda` (> 0).
        alpha: :math:`\alpha` of :math:`c_{ui} = 1 + \alpha r_{ui}`.
        unobserved_weight: :math:`w_0` (1: Hu–Koren–Volinsky).
        reg_exponent: :math:`\nu` of the frequency-scaled regularisation (0: plain).
        weighting: what :math:`r_{ui}` is: ``"binary"`` (1 for every training interaction),
            ``"linear"`` (the interaction weight, e.g. a play count) or ``"log"``
            (:math:`\log(1 + \text{weight})`, HKV's damped variant).
        iterations: sweeps (users then items) run by :meth:`fit`.
        solver: ``"cholesky"`` (exact) or ``"cg"``.
        cg_steps: conjugate-gradient steps per half-step (``solver="cg"``).
        init_std: factors start from :math:`\mathcal{N}(0, \sigma^2 / d)`.
        track_objective: record :math:`L` after every sweep in :attr:`history` (one SDDMM;
            off by default to keep sweeps lean).
    """

    train_defaults: ClassVar[dict[str, Any]] = {}
    selects_on_validation: ClassVar[bool] = False

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 256,
        reg_weight: float = 100.0,
        alpha: float = 100.0,
        unobserved_weight: float = 1.0,
        reg_exponent: float = 1.0,
        weighting: str = "binary",
        iterations: int = 15,
        solver: str = "cg",
        cg_steps: int = 3,
        init_std: float = 0.1,
        track_objective: bool = False,
    ) -> None:
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be positive (got {embedding_dim})")
        if not reg_weight > 0:
            raise ValueError(f"reg_weight must be > 0 for unique least-squares solutions "
                             f"(got {reg_weight})")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0 (got {alpha})")
        if unobserved_weight < 0:
            raise ValueError(f"unobserved_weight must be >= 0 (got {unobserved_weight})")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS} (got {weighting!r})")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS} (got {solver!r})")
        if iterations < 0 or cg_steps < 1:
            raise ValueError(f"iterations must be >= 0 and cg_steps >= 1 "
                             f"(got {iterations}, {cg_steps})")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.reg_weight, self.alpha = float(reg_weight), float(alpha)
        self.unobserved_weight, self.reg_exponent = float(unobserved_weight), float(reg_exponent)
        self.weighting, self.solver = weighting, solver
        self.iterations, self.cg_steps = int(iterations), int(cg_steps)
        self.init_std = float(init_std)
        self.track_objective = track_objective
        self.register_buffer("user_factors", torch.empty(num_users, embedding_dim))
        self.register_buffer("item_factors", torch.empty(num_items, embedding_dim))
        self.history: list[dict[str, float]] = []
        self._users: _Side | None = None
        self._items: _Side | None = None
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> IALS:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def reset_parameters(self) -> None:
        std = self.init_std / math.sqrt(self.embedding_dim)
        with torch.no_grad():
            self.user_factors.normal_(0.0, std)
            self.item_factors.normal_(0.0, std)

    # ---------------------------------------------------------------- fitting
    def confidence(self, train: Interactions) -> Tensor:
        """:math:`c_{ui} = 1 + \\alpha r_{ui}` per training interaction (``train``'s order)."""
        if self.weighting == "binary":
            r = torch.ones(train.num_interactions, device=train.device)
        else:
            if train.edge_weight is None:
                raise ValueError(f"weighting={self.weighting!r} needs interaction weights "
                                 "(train.edge_weight is None); use weighting='binary'")
            r = train.edge_weight.to(torch.float64)
            if (r < 0).any():
                raise ValueError("interaction weights must be >= 0 for confidences")
            if self.weighting == "log":
                r = torch.log1p(r)
        return (1.0 + self.alpha * r).to(self.user_factors.dtype)

    def prepare(self, train: Interactions) -> None:
        """Builds both sides' CSR views, confidences, regularisers and solver chunks
        (what :meth:`sweep` and :meth:`objective` use); :meth:`fit` calls it."""
        if (train.num_users, train.num_items) != (self.num_users, self.num_items):
            raise ValueError(f"train has {train.num_users} users and {train.num_items} items; "
                             f"the model was built for {self.num_users} and {self.num_items}")
        device = self.user_factors.device
        train = train.to(device)
        confidence = self.confidence(train)
        self._users = self._side(train.indptr, train.indices, train.users, confidence,
                                 self.num_items)
        # the transpose: entries sorted by (item, user)
        order = torch.argsort(train.indices * self.num_users + train.users)
        item_rows = train.indices[order]
        counts = torch.bincount(item_rows, minlength=self.num_items)
        indptr = torch.zeros(self.num_items + 1, dtype=torch.long, device=device)
        indptr[1:] = torch.cumsum(counts, 0)
        self._items = self._side(indptr, train.users[order], item_rows, confidence[order],
                                 self.num_users)

    def _side(self, indptr: Tensor, indices: Tensor, rows: Tensor, confidence: Tensor,
              num_columns: int) -> _Side:
        w0 = self.unobserved_weight
        num_rows = indptr.numel() - 1
        degree = indptr[1:] - indptr[:-1]
        row_weight = torch.zeros(num_rows, dtype=torch.float64, device=indptr.device)
        row_weight.index_add_(0, rows, confidence.to(torch.float64))
        frequency = row_weight + w0 * (num_columns - degree).to(torch.float64)
        if self.reg_exponent == 0:
            reg = torch.full((num_rows,), self.reg_weight, dtype=torch.float64,
                             device=indptr.device)
        else:
            if not (frequency > 0).all():
                raise ValueError("reg_exponent != 0 needs every row to have positive total "
                                 "weight (a row without interactions and unobserved_weight 0 "
                                 "has none)")
            scaled = frequency.pow(self.reg_exponent)
            reg = self.reg_weight * scaled / scaled.mean()
        dtype = self.user_factors.dtype
        chunks = self._chunks(indptr, indices, confidence - w0, num_columns)
        return _Side(indptr, indices, rows, confidence, reg.to(dtype), chunks, num_columns)

    def _chunks(self, indptr: Tensor, indices: Tensor, weight: Tensor, pad: int
                ) -> list[tuple[Tensor, Tensor, Tensor]]:
        """Rows grouped by degree into padded ``(rows, columns, weights)`` chunks."""
        if self.solver != "cholesky":
            return []
        degree = indptr[1:] - indptr[:-1]
        bucket = torch.where(degree > 0, torch.ceil(torch.log(degree.clamp(min=1).double())
                                                    / math.log(_BUCKET_RATIO)) + 1, 0).long()
        order = torch.argsort(bucket, stable=True)
        bucket_sizes = torch.bincount(bucket[order]).tolist()
        max_systems = max(1, _CHUNK_SYSTEM_FLOATS // self.embedding_dim ** 2)
        if indices.numel() == 0:  # no interactions: every row pads (and solves to zero)
            indices, weight = indices.new_full((1,), pad), weight.new_zeros(1)
        chunks = []
        start = 0
        for size in bucket_sizes:  # a few dozen buckets, not rows
            if size == 0:
                continue
            members = order[start:start + size]
            start += size
            width = max(int(degree[members].max()), 1)
            per_chunk = min(max(1, _CHUNK_SLOTS // width), max_systems)
            for begin in range(0, size, per_chunk):
                rows = members[begin:begin + per_chunk]
                slot = torch.arange(width, device=indptr.device)
                valid = slot.unsqueeze(0) < degree[rows].unsqueeze(1)
                position = (indptr[rows].unsqueeze(1) + slot).clamp(max=indices.numel() - 1)
                columns = torch.where(valid, indices[position], pad)
                weights = torch.where(valid, weight[position], 0.0)
                chunks.append((rows, columns, weights))
        return chunks

    def fit(self, train: Interactions) -> None:
        """Runs ``iterations`` sweeps from the current factors (those of construction or
        :meth:`reset_parameters`; a second call continues), logging each sweep's time."""
        self.prepare(train)
        self.history = []
        for sweep in range(1, self.iterations + 1):
            start = time.perf_counter()
            self.sweep()
            if self.user_factors.is_cuda:
                torch.cuda.synchronize(self.user_factors.device)
            record = {"sweep": sweep, "seconds": time.perf_counter() - start}
            if self.track_objective:
                record["objective"] = self.objective()
            self.history.append(record)
            logger.info("ials sweep %d/%d %.3fs%s", sweep, self.iterations, record["seconds"],
                        f" objective {record['objective']:.6g}" if "objective" in record
                        else "")

    @torch.no_grad()
    def sweep(self) -> None:
        """One ALS sweep: all users given the items, then all items given the users."""
        self.update_users()
        self.update_items()

    @torch.no_grad()
    def update_users(self) -> None:
        """Solves every user's normal equations given the item factors (a half-step)."""
        self._require_prepared()
        self.user_factors.copy_(self._solve(self._users, self.item_factors, self.user_factors))

    @torch.no_grad()
    def update_items(self) -> None:
        """Solves every item's normal equations given the user factors (a half-step)."""
        self._require_prepared()
        self.item_factors.copy_(self._solve(self._items, self.user_factors, self.item_factors))

    def _require_prepared(self) -> None:
        if self._users is None or self._users.indptr.device != self.user_factors.device:
            raise RuntimeError("call fit(train) (or prepare(train)) first, on the model's "
                               "current device")

    def _solve(self, side: _Side, fixed: Tensor, current: Tensor) -> Tensor:
        gram = self.unobserved_weight * (fixed.t() @ fixed)
        if self.solver == "cholesky":
            return self._solve_exact(side, fixed, gram)
        return self._solve_cg(side, fixed, gram, current.clone())

    def _solve_exact(self, side: _Side, fixed: Tensor, gram: Tensor) -> Tensor:
        # right-hand sides b_r = sum_c c_rc y_c, one CSR SpMM for all rows
        dim = fixed.size(1)
        rhs = side.add_spmm(fixed.new_zeros(side.num_rows, dim), side.confidence, fixed)
        padded = torch.cat([fixed, fixed.new_zeros(1, dim)])
        out = torch.empty(side.num_rows, dim, dtype=fixed.dtype, device=fixed.device)
        eye = torch.eye(dim, dtype=fixed.dtype, device=fixed.device)
        # one workspace for every chunk's gather: fresh large tensors per chunk would cost
        # more in page faults than the products themselves on CPU
        slots = max((columns.numel() for _, columns, _ in side.chunks), default=0)
        workspace = fixed.new_empty(slots, dim)
        for rows, columns, weights in side.chunks:
            gathered = torch.index_select(padded, 0, columns.view(-1),
                                          out=workspace[:columns.numel()]).view(*columns.shape, dim)
            system = torch.baddbmm(gram + side.reg[rows].view(-1, 1, 1) * eye,
                                   gathered.transpose(1, 2), gathered * weights.unsqueeze(-1))
            factor, info = torch.linalg.cholesky_ex(system)
            if bool((info != 0).any()):
                raise FloatingPointError(
                    "iALS normal equations are not positive definite (numerical breakdown); "
                    "increase reg_weight or use float64")
            # two triangular solves: faster than cholesky_solve on CPU batches
            half = torch.linalg.solve_triangular(factor, rhs[rows].unsqueeze(-1), upper=False)
            out[rows] = torch.linalg.solve_triangular(factor.transpose(1, 2), half,
                                                      upper=True).squeeze(-1)
        return out

    def _solve_cg(self, side: _Side, fixed: Tensor, gram: Tensor, x: Tensor) -> Tensor:
        observed = side.confidence - self.unobserved_weight
        pattern = side.pattern(fixed.dtype)
        fixed_t = fixed.t()
        uniform = self.reg_exponent == 0  # one lambda for every row: fold it into the Gramian
        if uniform:
            gram = gram + self.reg_weight * torch.eye(gram.size(0), dtype=gram.dtype,
                                                      device=gram.device)
        reg = side.reg.unsqueeze(1)

        def dense_part(v: Tensor, out: Tensor) -> Tensor:
            # out = (w0 Y^T Y + lambda_r I) v_r for every row r
            torch.mm(v, gram, out=out)
            return out if uniform else out.addcmul_(reg, v)

        def along(v: Tensor) -> Tensor:  # v_r . y_c at the observed entries (SDDMM)
            return torch.sparse.sampled_addmm(pattern, v, fixed_t, beta=0.0).values()

        # reused [rows, d] buffers: fresh ones per CG step cost more in page faults than the
        # arithmetic at large d
        product, buffer = torch.empty_like(x), torch.empty_like(x)

        def apply(v: Tensor) -> Tensor:
            # A_r v_r = (w0 Y^T Y + sum_c (c - w0) y_c y_c^T + lambda_r I) v_r for every row
            return side.add_spmm(dense_part(v, product), along(v).mul_(observed), fixed)

        def dot(a: Tensor, b: Tensor) -> Tensor:  # row-wise inner products
            return torch.mul(a, b, out=buffer).sum(1)

        # b_r - A_r x_r with one SpMM: sum_c (c - (c - w0) x_r . y_c) y_c - (w0 G + lambda) x_r
        residual = side.add_spmm(dense_part(x, torch.empty_like(x)).neg_(),
                                 side.confidence - along(x).mul_(observed), fixed)
        direction = residual.clone()
        norm = dot(residual, residual)
        tiny = torch.finfo(x.dtype).tiny
        for _ in range(self.cg_steps):
            product = apply(direction)
            curvature = dot(direction, product)
            step = torch.where(curvature > 0, norm / curvature.clamp(min=tiny), 0.0).unsqueeze(1)
            x.addcmul_(step, direction)
            residual.addcmul_(step, product, value=-1.0)
            new_norm = dot(residual, residual)
            beta = torch.where(norm > 0, new_norm / norm.clamp(min=tiny), 0.0).unsqueeze(1)
            direction.mul_(beta).add_(residual)
            norm = new_norm
        return x

    @torch.no_grad()
    def objective(self) -> float:
        """:math:`L(X, Y)` of the class docstring at the current factors (float64; the
        unobserved sum via :math:`\\sum_{\\text{all}} \\hat y^2 = \\langle X^\\top X,
        Y^\\top Y\\rangle`, so nothing dense is built)."""
        self._require_prepared()
        side, w0 = self._users, self.unobserved_weight
        users, items = self.user_factors.double(), self.item_factors.double()
        predicted = (users[side.rows] * items[side.indices]).sum(1)
        confidence = side.confidence.double()
        everything = ((users.t() @ users) * (items.t() @ items)).sum()
        observed = (confidence * (1.0 - predicted) ** 2 - w0 * predicted ** 2).sum()
        reg = ((self._users.reg.double() * users.pow(2).sum(1)).sum()
               + (self._items.reg.double() * items.pow(2).sum(1)).sum())
        return float(w0 * everything + observed + reg)

    # ---------------------------------------------------------------- scoring
    def forward(self) -> tuple[Tensor, Tensor]:
        """``(user_factors, item_factors)``."""
        return self.user_factors, self.item_factors

    def scorer(self) -> Callable[[Tensor], Tensor]:
        users, items_t = self.user_factors, self.item_factors.t().contiguous()
        return lambda batch: users[batch.to(users.device)] @ items_t

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Inner products of item factors."""
        items, items_t = self.item_factors, self.item_factors.t().contiguous()
        return lambda batch: items[batch.to(items.device)] @ items_t

    def _apply(self, fn, recurse: bool = True):
        # moving or casting the factors invalidates the prepared CSR views
        self._users = self._items = None
        return super()._apply(fn, recurse)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, solver={self.solver!r})")
