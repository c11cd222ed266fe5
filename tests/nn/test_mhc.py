"""mHC residuals: Sinkhorn-Knopp projection and reduction to a plain residual."""
from __future__ import annotations

import torch

from graphrec.nn.seq.mhc import (
    MHCResidual,
    expand_streams,
    merge_streams,
    mhc_combine,
    sinkhorn_knopp,
)


def test_sinkhorn_rows_and_columns_sum_to_one():
    torch.manual_seed(0)
    # 20 rounds (the default) for logits like mHC's (spread about 0.5); rows converge
    # geometrically, so wider logits need more rounds for the same tolerance
    for scale, iterations in ((0.1, 20), (0.5, 20), (1.0, 100)):
        matrix = sinkhorn_knopp(scale * torch.randn(64, 4, 4), iterations=iterations)
        assert (matrix >= 0).all()
        torch.testing.assert_close(matrix.sum(-1), torch.ones(64, 4), atol=1e-5, rtol=0)
        torch.testing.assert_close(matrix.sum(-2), torch.ones(64, 4), atol=1e-5, rtol=0)


def test_sinkhorn_of_equal_logits_is_uniform_and_large_logits_do_not_overflow():
    torch.testing.assert_close(sinkhorn_knopp(torch.zeros(3, 3)), torch.full((3, 3), 1 / 3))
    matrix = sinkhorn_knopp(torch.tensor([[1000.0, 0.0], [0.0, 1000.0]]))
    torch.testing.assert_close(matrix, torch.eye(2))


def test_implicit_gradient_equals_the_unrolled_one_at_convergence():
    """The implicit backward is the derivative of the converged projection: it matches
    back-propagation through enough unrolled rounds, and through the default 20 rounds
    for logits of mHC's spread, where 20 rounds have converged."""
    torch.manual_seed(0)
    for scale, iterations in ((0.3, 20), (1.0, 300), (3.0, 3000)):
        logits = (scale * torch.randn(6, 4, 4, dtype=torch.float64)).requires_grad_()
        weights = torch.randn(6, 4, 4, dtype=torch.float64)
        implicit, = torch.autograd.grad(
            (sinkhorn_knopp(logits, iterations, implicit_grad=True) * weights).sum(), logits)
        unrolled, = torch.autograd.grad(
            (sinkhorn_knopp(logits, iterations, implicit_grad=False) * weights).sum(), logits)
        torch.testing.assert_close(implicit, unrolled, atol=1e-8, rtol=1e-6)
        # shifting all logits of a row (or a column) by a constant leaves the projection
        # unchanged, so the gradient's row and column sums are zero
        torch.testing.assert_close(implicit.sum(-1), torch.zeros(6, 4, dtype=torch.float64),
                                   atol=1e-8, rtol=0)
        torch.testing.assert_close(implicit.sum(-2), torch.zeros(6, 4, dtype=torch.float64),
                                   atol=1e-8, rtol=0)


def test_implicit_gradient_of_a_saturated_permutation_is_finite():
    """A permutation-like P makes the implicit system singular: the minimum-norm solution
    keeps the gradient finite and equal to the unrolled one (both ~0: P is saturated)."""
    logits = torch.stack([40.0 * torch.eye(4), 40.0 * torch.eye(4).flip(0),
                          torch.randn(4, 4)]).requires_grad_()
    weights = torch.randn(3, 4, 4)
    implicit, = torch.autograd.grad(
        (sinkhorn_knopp(logits, implicit_grad=True) * weights).sum(), logits)
    unrolled, = torch.autograd.grad((sinkhorn_knopp(logits) * weights).sum(), logits)
    assert torch.isfinite(implicit).all()
    torch.testing.assert_close(implicit[:2], unrolled[:2], atol=1e-5, rtol=0)


def test_identity_and_uniform_maps_give_the_plain_residual():
    torch.manual_seed(0)
    n, d = 4, 8
    x = torch.randn(5, 3, d)
    sublayer = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.Tanh())
    streams = expand_streams(x, n)
    out = mhc_combine(streams, sublayer, torch.full((5, 3, n), 1 / n), torch.ones(5, 3, n),
                      torch.eye(n).expand(5, 3, n, n))
    expected = x + sublayer(x)
    for stream in range(n):
        torch.testing.assert_close(out[..., stream, :], expected)
    torch.testing.assert_close(merge_streams(out), expected)


def test_module_maps_are_constrained_and_gradients_flow():
    torch.manual_seed(0)
    residual = MHCResidual(8, expansion=4, sinkhorn_iterations=20)
    with torch.no_grad():
        residual.alpha.fill_(1.0)  # make the dynamic part matter
    x = (5 * torch.randn(2, 5, 4, 8)).requires_grad_()
    h_pre, h_post, h_res = residual.maps(x)
    assert h_pre.shape == (2, 5, 4) and h_res.shape == (2, 5, 4, 4)
    assert (h_pre > 0).all() and (h_pre < 1).all() and (h_post > 0).all() and (h_post < 2).all()
    torch.testing.assert_close(h_res.sum(-1), torch.ones(2, 5, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(h_res.sum(-2), torch.ones(2, 5, 4), atol=1e-5, rtol=0)
    out = residual(x, torch.nn.Linear(8, 8))
    out.square().sum().backward()
    assert residual.phi.weight.grad.abs().sum() > 0 and residual.bias_res.grad is not None
    assert "expansion=4" in repr(residual)


def test_initial_maps_start_near_the_plain_residual():
    residual = MHCResidual(8, expansion=4)
    h_pre, h_post, h_res = residual.maps(torch.zeros(1, 4, 8))
    torch.testing.assert_close(h_pre, torch.full((1, 4), 0.25), atol=1e-4, rtol=0)
    torch.testing.assert_close(h_post, torch.ones(1, 4), atol=1e-4, rtol=0)
    torch.testing.assert_close(h_res, torch.full((1, 4, 4), 0.25), atol=1e-4, rtol=0)
    # on equal streams (how a model starts them) uniform mixing is the identity, so the
    # block starts as the plain residual
    torch.manual_seed(0)
    x = torch.randn(3, 8)
    sublayer = torch.nn.Linear(8, 8)
    with torch.no_grad():
        residual.alpha.zero_()
        out = residual(expand_streams(x, 4), sublayer)
    torch.testing.assert_close(merge_streams(out), x + sublayer(x), atol=1e-4, rtol=0)
