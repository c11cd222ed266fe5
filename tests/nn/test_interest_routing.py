"""MIND's dynamic routing: coupling coefficients, squash, adaptive K', padding, hand cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graphrec.nn.interest_routing import (
    InterestRouting,
    adaptive_num_interests,
    label_aware_attention,
    squash,
)


def _inputs(batch=5, length=7, dim=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, dim, generator=gen)
    lengths = torch.tensor([7, 1, 3, 4, 0][:batch])
    mask = torch.arange(length).unsqueeze(0) >= (length - lengths).unsqueeze(1)  # right-aligned
    return x, mask


def test_coupling_coefficients_sum_to_one_over_interests_for_each_behaviour():
    torch.manual_seed(0)
    layer = InterestRouting(6, 5, num_interests=4, iterations=3, maxlen=10)
    x, mask = _inputs()
    interests, interest_mask, coupling = layer(x, mask, return_coupling=True)
    assert coupling.shape == (5, 7, 4)
    sums = coupling.sum(-1)
    torch.testing.assert_close(sums[mask], torch.ones(int(mask.sum())))
    assert torch.all(sums[~mask] == 0)  # padding routes nothing
    # inactive interests (adaptive K') get no coupling and are zero vectors
    assert torch.all(coupling.masked_select(~interest_mask.unsqueeze(1)) == 0)
    assert torch.all(interests[~interest_mask] == 0)
    assert interest_mask.sum(1).tolist() == [2, 1, 1, 2, 1]  # lengths 7, 1, 3, 4, 0
    assert (coupling >= 0).all()


def test_squash_keeps_norms_below_one_and_the_direction():
    gen = torch.Generator().manual_seed(1)
    z = torch.cat([torch.randn(200, 8, generator=gen) * scale
                   for scale in (1e-3, 1.0, 10.0, 100.0)])
    out = squash(z)
    norms = out.norm(dim=-1)
    assert (norms < 1).all()
    # far out, float32 rounds |z|^2 / (1 + |z|^2) to 1: it never exceeds it
    assert (squash(torch.randn(50, 8, generator=gen) * 1e6).norm(dim=-1) <= 1 + 1e-6).all()
    cos = torch.nn.functional.cosine_similarity(out, z, dim=-1)
    torch.testing.assert_close(cos, torch.ones_like(cos))
    # hand case: |z| = 5 -> 25/26 * z/5
    torch.testing.assert_close(squash(torch.tensor([3.0, 4.0])),
                               torch.tensor([3.0, 4.0]) / 5 * 25 / 26)
    assert torch.equal(squash(torch.zeros(3)), torch.zeros(3))


@pytest.mark.parametrize("length, expected", [
    (0, 1), (1, 1), (2, 1), (3, 1), (4, 2), (7, 2), (8, 3), (15, 3), (16, 4), (17, 4),
    (1000, 4)])
def test_adaptive_number_of_interests_hand_cases(length, expected):
    assert adaptive_num_interests(torch.tensor([length]), 4).item() == expected
    assert adaptive_num_interests(torch.tensor([length]), 1).item() == 1


def test_padding_does_not_change_outputs():
    torch.manual_seed(0)
    layer = InterestRouting(6, 6, num_interests=4, iterations=3, maxlen=12)
    x, mask = _inputs()
    out, out_mask = layer(x, mask)
    # more left padding (wider batch) with garbage in the padded slots
    wide = torch.cat([torch.randn(5, 4, 6) * 100, x], dim=1)
    wide_mask = torch.cat([torch.zeros(5, 4, dtype=torch.bool), mask], dim=1)
    x_garbage = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, 55.0))
    wide = torch.cat([wide[:, :4], x_garbage], dim=1)
    wide_out, wide_out_mask = layer(wide, wide_mask)
    torch.testing.assert_close(wide_out, out)
    assert torch.equal(wide_out_mask, out_mask)
    # a user's output does not depend on the rest of the batch
    single, _ = layer(x[1:2, -1:], mask[1:2, -1:])  # user 1 has one item
    torch.testing.assert_close(single[0], out[1])
    # an empty history gives zero interests (nothing routed), not NaN
    assert torch.all(out[4] == 0)


def test_routing_matches_algorithm_1_by_hand():
    torch.manual_seed(3)
    layer = InterestRouting(3, 2, num_interests=2, iterations=2, maxlen=4, adaptive=False)
    x = torch.randn(1, 3, 3)
    mask = torch.tensor([[False, True, True]])
    interests, _ = layer(x, mask)
    s = layer.bilinear.detach().numpy().astype(np.float64)
    b = layer.routing_init[1:].numpy().astype(np.float64)  # the last 3 positions
    e = x[0].numpy().astype(np.float64) @ s
    e[0] = 0.0  # padding
    live = np.array([0.0, 1.0, 1.0])

    def np_squash(z):
        n2 = (z ** 2).sum(-1, keepdims=True)
        return n2 / (1 + n2) * z / np.sqrt(n2)

    for iteration in range(2):
        w = np.exp(b) / np.exp(b).sum(1, keepdims=True) * live[:, None]
        u = np_squash(w.T @ e)
        if iteration == 0:
            b = b + e @ u.T
    np.testing.assert_allclose(interests[0].detach().numpy(), u, rtol=1e-5, atol=1e-6)


def test_gaussian_routing_logits_separate_the_interests():
    torch.manual_seed(0)
    layer = InterestRouting(8, 8, num_interests=4, iterations=3, maxlen=20, adaptive=False)
    x = torch.randn(2, 20, 8)
    interests, _ = layer(x, torch.ones(2, 20, dtype=torch.bool))
    gaps = (interests.unsqueeze(1) - interests.unsqueeze(2)).norm(dim=-1)
    assert (gaps + torch.eye(4) > 1e-3).all()  # no two capsules coincide
    # with zero initial logits (what the paper avoids) all capsules are the same
    layer.routing_init.zero_()
    same, _ = layer(x, torch.ones(2, 20, dtype=torch.bool))
    torch.testing.assert_close(same, same[:, :1].expand_as(same))


def test_label_aware_attention_powers():
    interests = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])
    target = torch.tensor([[1.0, 1.0]])
    mask = torch.tensor([[True, True, False]])
    # p = 0: the mean of the active interests
    torch.testing.assert_close(label_aware_attention(interests, target, 0, mask),
                               torch.tensor([[0.5, 1.0]]))
    # p = 2: softmax of squared inner products (1, 4)
    weight = torch.softmax(torch.tensor([1.0, 4.0]), 0)
    torch.testing.assert_close(label_aware_attention(interests, target, 2, mask),
                               (weight.unsqueeze(1) * interests[0, :2]).sum(0, keepdim=True))
    # p = inf: the closest active interest; the masked one never wins
    torch.testing.assert_close(label_aware_attention(interests, target, math.inf, mask),
                               torch.tensor([[0.0, 2.0]]))
    # a negative inner product under an even power weighs as its magnitude (the paper's pow)
    negative = label_aware_attention(interests, -target, 2, mask)
    torch.testing.assert_close(negative, label_aware_attention(interests, target, 2, mask))
    # an odd power keeps the sign: products (-1, -2) -> (-1, -8), the larger product wins
    weight = torch.softmax(torch.tensor([-1.0, -8.0]), 0)
    torch.testing.assert_close(label_aware_attention(interests, -target, 3, mask),
                               (weight.unsqueeze(1) * interests[0, :2]).sum(0, keepdim=True))
    for bad in (0.5, -1, True, "2"):
        with pytest.raises(ValueError, match="pow_p"):
            label_aware_attention(interests, target, bad, mask)


def test_bad_input_is_named():
    layer = InterestRouting(4, 4, maxlen=3)
    with pytest.raises(ValueError, match="histories of 4 items exceed maxlen=3"):
        layer(torch.randn(1, 4, 4), torch.ones(1, 4, dtype=torch.bool))
    # wider than maxlen but only with padding: fine, and the same as without it
    x, mask = torch.randn(1, 5, 4), torch.tensor([[False, False, True, True, True]])
    torch.testing.assert_close(layer(x, mask)[0], layer(x[:, 2:], mask[:, 2:])[0])
    with pytest.raises(ValueError, match="mask must be a bool"):
        layer(torch.randn(1, 2, 4), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"x must be \[B, T, 4\]"):
        layer(torch.randn(1, 2, 5), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="num_interests"):
        InterestRouting(4, 4, num_interests=0)
    assert "num_interests=4" in repr(layer)
    before = layer.routing_init.clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.routing_init)
