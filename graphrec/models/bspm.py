r"""BSPM: blurring-sharpening process models, graph filters as ODEs solved without training."""
from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.models.gfcf import ItemGram, ItemGramRecommender, add_ideal, ideal_factors
from graphrec.models.registry import register

SOLVERS = ("euler", "rk4")
MERGES = ("early", "late")


def sharpening_polynomial(solver: str, step: float) -> list[float]:
    r"""Coefficients :math:`c_0, c_1, \dots` of one step of the sharpening ODE
    :math:`\dot x = -P x` as a polynomial in :math:`P`: :math:`x \leftarrow \sum_j c_j P^j x`.

    Euler: :math:`1 - hP`. RK4: :math:`\sum_{j=0}^{4} (-hP)^j / j!`; for a linear
    autonomous ODE every four-stage fourth-order Runge-Kutta step (the classical one, or the
    3/8 rule of ``torchdiffeq``'s ``rk4`` used by the authors) is exactly this Taylor
    polynomial, so the stages need not be formed.
    """
    if solver == "euler":
        return [1.0, -step]
    if solver == "rk4":
        coefficients, term = [], 1.0
        for power in range(5):
            coefficients.append(term)
            term *= -step / (power + 1)
        return coefficients
    raise ValueError(f"solver must be one of {SOLVERS} (got {solver!r})")


def apply_polynomial(gram: ItemGram, coefficients: list[float], x: Tensor) -> Tensor:
    r""":math:`\sum_j c_j P^j X` by Horner's rule (``len(coefficients) - 1`` products with
    :math:`P`; two ``X``-sized buffers)."""
    out = x * coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        out = gram.apply(out).add_(x, alpha=coefficient)
    return out


@register("bspm")
class BSPM(ItemGramRecommender):
    r"""BSPM, from `"Blurring-Sharpening Process Models for Collaborative Filtering"
    <https://arxiv.org/abs/2211.09324>`_ (Choi et al., SIGIR 2023). With :math:`\tilde R =
    D_U^{-1/2} R D_I^{-1/2}`, the linear filter :math:`P = \tilde R^\top \tilde R` and the
    ideal low-pass filter :math:`\Pi = D_I^{-1/2} V V^\top D_I^{1/2}` (:math:`V`: the
    ``factor_dim`` leading right singular vectors of :math:`\tilde R`), a user's raw binary
    row :math:`\mathbf{r}_u` is

    1. **blurred** by the heat equation :math:`\dot x = x (P - I)`, ``blur_steps`` Euler
       steps up to time ``blur_time`` (:math:`T_b`): each step is :math:`x \leftarrow (1 -
       \tau) x + \tau\, x P`; the default one step of :math:`\tau = T_b = 1` gives GF-CF's
       linear filter :math:`\mathbf{r}_u P`;
    2. low-pass filtered: :math:`\mathbf{r}_u \Pi` (the authors' ideal-filter ODE, one Euler
       step of length 1 from :math:`\mathbf{r}_u`, is exactly this);
    3. **sharpened** by :math:`\dot x = -x P` (the reverse of the blurring's diffusion),
       ``sharpen_steps`` steps of ``solver`` (``"euler"`` or ``"rk4"``) up to time
       ``sharpen_time`` (:math:`T_s`), i.e. :math:`x \leftarrow x\, s(P)` with
       :math:`s` the step polynomial of :func:`sharpening_polynomial`.

    ``merge="early"`` is **BSPM-EM** (the authors' ``final_sharpening=True``): the ideal
    filter joins before sharpening, :math:`\hat{\mathbf{y}}_u = (x_b + \beta\,
    \mathbf{r}_u\Pi)\, s(P)`; ``merge="late"`` is **BSPM-LM**: :math:`\hat{\mathbf{y}}_u =
    x_b\, s(P) + \beta\, \mathbf{r}_u \Pi`. Since :math:`s(P)` is a polynomial in :math:`P`,
    the ideal term is :math:`(\mathbf{r}_u D_I^{-1/2} V) M` with :math:`M = V^\top D_I^{1/2}
    s(P)` (``[k, num_items]``) computed once in :meth:`fit`; the rest is computed per user
    batch in factored form (each :math:`xP` is :math:`(x \tilde R^\top)\tilde R`, two sparse
    products: :class:`~graphrec.models.gfcf.ItemGram`). No ``num_items²`` matrix is ever
    formed. Not implemented: the authors' ``t_point_combination`` (averaging the ODE states
    at all time points; off for Gowalla).

    Defaults: the authors' Gowalla command (BSPM-EM; :math:`T_b = 1` one Euler step,
    :math:`T_s = 2.5` one RK4 step, :math:`\beta = 0.2`, :math:`k = 448`), confirmed on a
    validation carve-out of Gowalla's training file (``docs/models.md``).

    Args:
        num_users, num_items: index space sizes.
        factor_dim: :math:`k`, singular vectors of the ideal low-pass filter (0: none).
        ideal_weight: :math:`\beta` (the authors' ``idl_beta``).
        blur_time, blur_steps: :math:`T_b` and its number of Euler steps (``blur_time=0``:
            no blurring).
        sharpen_time, sharpen_steps: :math:`T_s` and its number of steps (``sharpen_time=0``:
            no sharpening).
        solver: the sharpening solver, ``"euler"`` or ``"rk4"``.
        merge: ``"early"`` (BSPM-EM) or ``"late"`` (BSPM-LM).
        seed: seeds the sparse SVD's start vector.
    """

    def __init__(self, num_users: int, num_items: int, factor_dim: int = 448,
                 ideal_weight: float = 0.2, blur_time: float = 1.0, blur_steps: int = 1,
                 sharpen_time: float = 2.5, sharpen_steps: int = 1, solver: str = "rk4",
                 merge: str = "early", seed: int = 0) -> None:
        super().__init__(num_users, num_items)
        if factor_dim < 0:
            raise ValueError(f"factor_dim must be >= 0 (got {factor_dim})")
        if blur_time < 0 or sharpen_time < 0:
            raise ValueError(f"blur_time and sharpen_time must be >= 0 (got {blur_time}, "
                             f"{sharpen_time})")
        if blur_steps < 1 or sharpen_steps < 1:
            raise ValueError(f"blur_steps and sharpen_steps must be >= 1 (got {blur_steps}, "
                             f"{sharpen_steps})")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS} (got {solver!r})")
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES} (got {merge!r})")
        self.factor_dim, self.ideal_weight = int(factor_dim), float(ideal_weight)
        self.blur_time, self.blur_steps = float(blur_time), int(blur_steps)
        self.sharpen_time, self.sharpen_steps = float(sharpen_time), int(sharpen_steps)
        self.solver, self.merge, self.seed = solver, merge, seed
        self.register_buffer("ideal_left", torch.zeros(num_items, 0))
        self.register_buffer("ideal_right", torch.zeros(0, num_items))

    def fit_matrix(self, matrix: sp.csr_matrix) -> None:
        normalized, item_degree = self.fit_normalized(matrix)
        left, right = ideal_factors(normalized, item_degree, self.factor_dim, self.seed)
        self.ideal_left = left.to(self.device)
        right = right.to(self.device)
        if self.merge == "early" and right.size(0):
            right = self.sharpen(right.t().contiguous()).t().contiguous()  # M = V^T D^1/2 s(P)
        self.ideal_right = right

    @torch.no_grad()
    def blur(self, rows: Tensor) -> Tensor:
        r"""The blurred batch :math:`x_b^\top` ``[num_items, B]`` from sparse rows ``[B,
        num_items]``: Euler steps :math:`x \leftarrow (1 - \tau)x + \tau P x`."""
        gram = self.fitted_gram()
        if self.blur_time == 0:
            return rows.to_dense().t().contiguous()
        tau = self.blur_time / self.blur_steps
        x = gram.apply_rows(rows).mul_(tau)  # the first step starts from the sparse rows
        if tau != 1.0:
            x.add_(rows.to_dense().t(), alpha=1.0 - tau)
        for _ in range(self.blur_steps - 1):
            x = gram.apply(x).mul_(tau).add_(x, alpha=1.0 - tau)
        return x

    @torch.no_grad()
    def sharpen(self, x: Tensor) -> Tensor:
        r""":math:`s(P)` applied to item-major ``x`` ``[num_items, B]``: ``sharpen_steps``
        solver steps of :math:`\dot x = -P x` up to ``sharpen_time``."""
        if self.sharpen_time == 0:
            return x
        gram = self.fitted_gram()
        step = sharpening_polynomial(self.solver, self.sharpen_time / self.sharpen_steps)
        for _ in range(self.sharpen_steps):
            x = apply_polynomial(gram, step, x)
        return x

    @torch.no_grad()
    def score_rows(self, rows: Tensor) -> Tensor:
        filtered = self.sharpen(self.blur(rows))  # [num_items, B]
        return add_ideal(filtered, rows, self.ideal_left, self.ideal_right, self.ideal_weight)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_users}, {self.num_items}, "
                f"factor_dim={self.factor_dim}, ideal_weight={self.ideal_weight}, "
                f"blur_time={self.blur_time}, blur_steps={self.blur_steps}, "
                f"sharpen_time={self.sharpen_time}, sharpen_steps={self.sharpen_steps}, "
                f"solver={self.solver!r}, merge={self.merge!r})")
