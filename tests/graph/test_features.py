import math

import pytest
import torch

from graphrec.graph.features import rbf_encoding


def test_rbf_encoding_hand_case_and_missing_values():
    # values 0, 1, 2, 3 and 10; K = 3 centres at the 1/6, 1/2, 5/6 quantiles of the present
    # values (linear interpolation): 0.667, 2.0, 3.333; gaps 1.333 -> spacing 1.333 each
    values = torch.tensor([0.0, 1.0, 2.0, 3.0, float("nan"), 10.0])
    out = rbf_encoding(values, num_centers=3)
    centers = torch.quantile(torch.tensor([0.0, 1, 2, 3, 10], dtype=torch.float64),
                             torch.tensor([1 / 6, 1 / 2, 5 / 6], dtype=torch.float64))
    spacing = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64) * float(centers[1] - centers[0])
    spacing[1] = (float(centers[1] - centers[0]) + float(centers[2] - centers[1])) / 2
    spacing[2] = float(centers[2] - centers[1])
    value = 1.0
    bumps = [math.exp(-0.5 * ((value - float(c)) / float(s)) ** 2)
             for c, s in zip(centers, spacing, strict=True)]
    expected = torch.tensor(bumps) / sum(bumps)
    torch.testing.assert_close(out[1], expected.float())
    assert out[4].abs().sum() == 0  # missing: zero row
    present = torch.tensor([0, 1, 2, 3, 5])
    torch.testing.assert_close(out[present].sum(1), torch.ones(5))
    assert out.shape == (6, 3) and out.dtype == torch.float32


def test_rbf_encoding_inner_products_fall_with_distance():
    days = torch.linspace(0, 1000, 201, dtype=torch.float64)
    out = rbf_encoding(days, num_centers=16)
    similarity = out @ out[100]  # against the middle value
    # closer values have larger inner products: monotone on each side of the middle
    assert (similarity[100:].diff() <= 1e-6).all() and (similarity[:101].diff() >= -1e-6).all()
    assert similarity[100] > 5 * similarity[0]


def test_rbf_encoding_degenerate_and_bad_input():
    same = rbf_encoding(torch.full((4,), 5.0), num_centers=3)
    torch.testing.assert_close(same.sum(1), torch.ones(4))
    assert rbf_encoding(torch.full((2,), float("nan")), 4).abs().sum() == 0
    with pytest.raises(ValueError, match="num_centers"):
        rbf_encoding(torch.zeros(3), num_centers=0)
