import pytest
import torch

from graphrec.nn import SocialConv


def _social():
    # directed pairs (source -> target): user 0 reads 1 and 2, user 1 reads 0, user 3 none
    return torch.tensor([[1, 2, 0], [0, 0, 1]])


def test_matches_dense_reference_in_eval_mode():
    conv = SocialConv(4, dropout=0.5).eval()
    x = torch.randn(4, 4)
    out = conv(x, _social())
    s_raw = torch.zeros(4, 4)
    s_raw[0, 1] = s_raw[0, 2] = s_raw[1, 0] = 1.0
    s = s_raw / s_raw.sum(1, keepdim=True).clamp(min=1)  # D_s^-1 S_raw
    expected = x + s @ (x @ conv.lin.weight.t())
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out[3], x[3])  # no friends: unchanged
    assert torch.equal(conv(x, _social()), out)  # deterministic: dropout off in eval


def test_weighted_edges_and_gradients_reach_weights():
    conv = SocialConv(3, dropout=0.0)
    x = torch.randn(4, 3, requires_grad=True)
    weight = torch.tensor([1.0, 3.0, 2.0])
    out = conv(x, _social(), weight)
    s = torch.zeros(4, 4)
    s[0, 1], s[0, 2], s[1, 0] = 0.25, 0.75, 1.0
    assert torch.allclose(out, x + s @ conv.lin(x), atol=1e-6)
    out.sum().backward()
    assert conv.lin.weight.grad is not None and x.grad is not None


def test_dropout_is_active_in_training_mode():
    torch.manual_seed(0)
    conv = SocialConv(64, dropout=0.5).train()
    x = torch.randn(4, 64)
    first, second = conv(x, _social()), conv(x, _social())
    assert not torch.allclose(first, second)
    assert torch.equal(first[3], x[3])  # dropout only touches the propagated term


def test_repr_and_bad_normalisation():
    assert repr(SocialConv(8)) == "SocialConv(8, dropout=0.1, normalize='row')"
    with pytest.raises(ValueError, match="normalize"):
        SocialConv(8, normalize="none")
