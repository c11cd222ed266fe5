"""Manifold-constrained hyper-connections (mHC): a widened, doubly-stochastic residual."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn


def _sinkhorn_iterations(logits: Tensor, iterations: int) -> Tensor:
    matrix = torch.exp(logits - logits.amax(dim=(-2, -1), keepdim=True))
    for _ in range(iterations):
        matrix = matrix / matrix.sum(dim=-1, keepdim=True)
        matrix = matrix / matrix.sum(dim=-2, keepdim=True)
    return matrix


class _ImplicitSinkhorn(torch.autograd.Function):
    """Sinkhorn-Knopp forward without an autograd graph; backward by implicit
    differentiation of the doubly stochastic fixed point (see :func:`sinkhorn_knopp`)."""

    @staticmethod
    def forward(ctx: Any, logits: Tensor, iterations: int) -> Tensor:
        matrix = _sinkhorn_iterations(logits, iterations)
        ctx.save_for_backward(matrix)
        return matrix

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (matrix,) = ctx.saved_tensors
        n = matrix.size(-1)
        weighted = matrix * grad
        rhs = torch.cat([weighted.sum(-1), weighted.sum(-2)], dim=-1)          # [..., 2n]
        eye = torch.eye(n, dtype=matrix.dtype, device=matrix.device).expand_as(matrix)
        system = torch.cat([torch.cat([eye, matrix], -1),
                            torch.cat([matrix.transpose(-1, -2), eye], -1)], -2)  # [..., 2n, 2n]
        # [1; -1] spans the system's null space (shifting every row potential up and every
        # column potential down leaves P unchanged) and rhs is orthogonal to it, so adding
        # its outer product makes the system regular without changing the solution
        null = torch.cat([matrix.new_ones(n), -matrix.new_ones(n)])
        system = (system + torch.outer(null, null)).double()
        rhs = rhs.double()
        potentials, info = torch.linalg.solve_ex(system, rhs)
        # a P with more than one singular value 1 (a permutation, or block-diagonal: H_res
        # saturates in deep stacks) leaves the system singular: those elements take the
        # minimum-norm solution (eigendecomposition; 8x slower, so only where needed)
        failed = (info != 0) | ~torch.isfinite(potentials).all(-1)
        if failed.any():
            pseudo = torch.linalg.pinv(system[failed], hermitian=True, rtol=1e-6)
            potentials[failed] = (pseudo @ rhs[failed].unsqueeze(-1)).squeeze(-1)
        alpha, beta = potentials.to(matrix.dtype).split(n, dim=-1)
        return matrix * (grad - alpha.unsqueeze(-1) - beta.unsqueeze(-2)), None


def sinkhorn_knopp(logits: Tensor, iterations: int = 20, implicit_grad: bool = False) -> Tensor:
    r"""Projects ``[..., n, n]`` logits onto (approximately) doubly stochastic matrices:
    :math:`\mathbf{M}^{(0)} = \exp(\mathbf{L})`, then ``iterations`` rounds of row then
    column normalisation (Sinkhorn & Knopp, 1967). After the last round columns sum to 1
    exactly and rows to within the method's (geometric) convergence.

    The maximum is subtracted before ``exp`` (it cancels in the normalisations) so large
    logits do not overflow.

    Gradient: by default back-propagation through the ``4 * iterations`` unrolled
    operations. ``implicit_grad=True`` instead differentiates the fixed point
    :math:`\mathbf{P} = \mathrm{diag}(e^{\mathbf{f}})\,e^{\mathbf{L}}\,
    \mathrm{diag}(e^{\mathbf{g}})` with :math:`\mathbf{P}\mathbf{1} = \mathbf{P}^\top
    \mathbf{1} = \mathbf{1}`:

    .. math::
        \frac{\partial \ell}{\partial \mathbf{L}} = \mathbf{P} \odot (\mathbf{G} -
        \boldsymbol{\alpha}\mathbf{1}^\top - \mathbf{1}\boldsymbol{\beta}^\top),
        \qquad
        \begin{bmatrix}\mathbf{I} & \mathbf{P} \\ \mathbf{P}^\top & \mathbf{I}
        \end{bmatrix}
        \begin{bmatrix}\boldsymbol{\alpha} \\ \boldsymbol{\beta}\end{bmatrix} =
        \begin{bmatrix}(\mathbf{P}\odot\mathbf{G})\mathbf{1} \\
        (\mathbf{P}\odot\mathbf{G})^\top\mathbf{1}\end{bmatrix}

    (:math:`\mathbf{G} = \partial\ell / \partial\mathbf{P}`; one batched
    :math:`2n \times 2n` solve in float64, the minimum-norm solution where the system is
    singular). It is the exact gradient of the *converged* projection and equals the
    unrolled one once the rounds have converged (tested), at a third of the cost on a
    128 x 50 batch. It is not the default because a finite number of rounds has not
    always converged: when :math:`\mathbf{H}^{res}` saturates towards a permutation (seen
    with 8 mHC blocks on MovieLens-100K) the fixed point's system becomes singular and the
    implicit gradient departs from the unrolled one.
    """
    if implicit_grad and logits.requires_grad:
        return _ImplicitSinkhorn.apply(logits, iterations)
    return _sinkhorn_iterations(logits, iterations)


class MHCResidual(nn.Module):
    r"""The mHC residual of one sub-layer :math:`\mathcal{F}`, from `"mHC:
    Manifold-Constrained Hyper-Connections" <https://arxiv.org/abs/2512.24880>`_
    (DeepSeek-AI, 2025).

    The residual stream is widened to :math:`n` copies, :math:`\mathbf{x}_l \in
    \mathbb{R}^{n \times d}` per token, and

    .. math::
        \mathbf{x}_{l+1} = \mathcal{H}^{res}_l \mathbf{x}_l +
        \mathcal{H}^{post\,\top}_l \mathcal{F}(\mathcal{H}^{pre}_l \mathbf{x}_l)

    with maps computed per token from :math:`\tilde{\mathbf{x}} =
    \mathrm{RMSNorm}(\mathrm{vec}(\mathbf{x}_l))`:

    .. math::
        \mathcal{H}^{pre} = \sigma(\alpha^{pre} \tilde{\mathbf{x}}\varphi^{pre} + \mathbf{b}^{pre}),
        \quad
        \mathcal{H}^{post} = 2\sigma(\alpha^{post} \tilde{\mathbf{x}}\varphi^{post} +
        \mathbf{b}^{post}),
        \quad
        \mathcal{H}^{res} = \mathrm{SinkhornKnopp}(\alpha^{res}
        \mathrm{mat}(\tilde{\mathbf{x}}\varphi^{res}) + \mathbf{B}^{res})

    :math:`\mathcal{H}^{pre} \in \mathbb{R}^{1\times n}` reads the sub-layer input from the
    streams, :math:`\mathcal{H}^{post} \in \mathbb{R}^{1\times n}` writes its output back
    (both non-negative), :math:`\mathcal{H}^{res} \in \mathbb{R}^{n\times n}` is doubly
    stochastic (so the stream's mean is preserved and its norm cannot grow).

    Initialisation (graphrec's choice, documented because the paper's is not fully
    specified): :math:`\alpha = 0.01`, :math:`\varphi` Xavier, :math:`\mathbf{b}^{pre} =
    \sigma^{-1}(1/n)` (the input is the streams' mean), :math:`\mathbf{b}^{post} = 0`
    (:math:`\mathcal{H}^{post} = 1`), :math:`\mathbf{B}^{res} = 0` (uniform mixing:
    the streams start as equal copies, so it is the identity on them; a near-permutation
    start would slow Sinkhorn-Knopp's convergence, which is geometric with the matrix's
    second singular value). With :math:`\mathcal{H}^{res} = \mathbf{I}`,
    :math:`\mathcal{H}^{pre} = \mathbf{1}/n`, :math:`\mathcal{H}^{post} = \mathbf{1}` and
    equal streams the block is the plain residual :math:`\mathbf{x} + \mathcal{F}(\mathbf{x})`
    (tested). A model widens its input with :func:`expand_streams` and reads out the
    mean of the streams with :func:`merge_streams`.

    Args:
        channels: :math:`d`.
        expansion: :math:`n` (default 4).
        sinkhorn_iterations: rounds of :func:`sinkhorn_knopp` (default 20).
        implicit_grad: differentiate Sinkhorn-Knopp implicitly (see :func:`sinkhorn_knopp`;
            cheaper, exact only at convergence; default ``False``: unrolled).

    Shapes:
        - input: ``x`` ``[*, n, d]`` and a callable ``[*, d] -> [*, d]``.
        - output: ``[*, n, d]``.
    """

    def __init__(self, channels: int, expansion: int = 4, sinkhorn_iterations: int = 20,
                 implicit_grad: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.expansion = expansion
        self.sinkhorn_iterations = sinkhorn_iterations
        self.implicit_grad = implicit_grad
        n = expansion
        self.norm = nn.RMSNorm(n * channels)
        self.phi = nn.Linear(n * channels, n + n + n * n, bias=False)
        self.alpha = nn.Parameter(torch.empty(3))
        self.bias_pre = nn.Parameter(torch.empty(n))
        self.bias_post = nn.Parameter(torch.empty(n))
        self.bias_res = nn.Parameter(torch.empty(n, n))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        n = self.expansion
        self.norm.reset_parameters()
        nn.init.xavier_uniform_(self.phi.weight)
        nn.init.constant_(self.alpha, 0.01)
        nn.init.constant_(self.bias_pre, float(torch.logit(torch.tensor(1.0 / n))) if n > 1
                          else 10.0)
        nn.init.zeros_(self.bias_post)
        nn.init.zeros_(self.bias_res)

    def maps(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(H_pre [*, n], H_post [*, n], H_res [*, n, n])`` for streams ``x`` ``[*, n, d]``."""
        n = self.expansion
        projected = self.phi(self.norm(x.flatten(-2)))
        pre, post, res = projected.split([n, n, n * n], dim=-1)
        h_pre = torch.sigmoid(self.alpha[0] * pre + self.bias_pre)
        h_post = 2.0 * torch.sigmoid(self.alpha[1] * post + self.bias_post)
        res = self.alpha[2] * res.unflatten(-1, (n, n)) + self.bias_res
        h_res = sinkhorn_knopp(res.float(), self.sinkhorn_iterations,
                               self.implicit_grad).to(x.dtype)
        return h_pre, h_post, h_res

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        h_pre, h_post, h_res = self.maps(x)
        return mhc_combine(x, sublayer, h_pre, h_post, h_res)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, expansion={self.expansion}, "
                f"sinkhorn_iterations={self.sinkhorn_iterations})")


def mhc_combine(x: Tensor, sublayer: Callable[[Tensor], Tensor], h_pre: Tensor, h_post: Tensor,
                h_res: Tensor) -> Tensor:
    r""":math:`\mathcal{H}^{res}\mathbf{x} + \mathcal{H}^{post\top}
    \mathcal{F}(\mathcal{H}^{pre}\mathbf{x})` for given maps (``x`` ``[*, n, d]``)."""
    sub_in = (h_pre.unsqueeze(-1) * x).sum(-2)
    sub_out = sublayer(sub_in)
    return h_res @ x + h_post.unsqueeze(-1) * sub_out.unsqueeze(-2)


def expand_streams(x: Tensor, expansion: int) -> Tensor:
    """``[*, d] -> [*, n, d]``: ``n`` copies of the stream."""
    return x.unsqueeze(-2).expand(*x.shape[:-1], expansion, x.size(-1)).contiguous()


def merge_streams(x: Tensor) -> Tensor:
    """``[*, n, d] -> [*, d]``: the mean of the streams."""
    return x.mean(-2)


__all__ = ["MHCResidual", "expand_streams", "merge_streams", "mhc_combine", "sinkhorn_knopp"]
