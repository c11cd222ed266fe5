import torch

from graphrec.nn import PinSAGEConv


def dense_reference(conv: PinSAGEConv, x_src, x_dst, edge_index, edge_weight):
    """n = A relu(Q x_src + q) with A[d, s] = alpha; z = relu(W [x_dst || n] + w) / ||.||."""
    alpha = torch.zeros(x_dst.size(0), x_src.size(0))
    alpha[edge_index[1], edge_index[0]] = edge_weight
    neighborhood = alpha @ torch.relu(x_src @ conv.lin_neighbor.weight.t()
                                      + conv.lin_neighbor.bias)
    z = torch.relu(torch.cat([x_dst, neighborhood], 1) @ conv.lin_out.weight.t()
                   + conv.lin_out.bias)
    return z / z.norm(dim=1, keepdim=True).clamp(min=1e-12)


def test_equals_dense_reference_on_weighted_graph():
    torch.manual_seed(0)
    conv = PinSAGEConv(8, 6, hidden_channels=5)
    x = torch.randn(5, 8)
    # node 0 has neighbours 1, 2, 3 with weights 0.5, 0.3, 0.2; node 4 none
    edge_index = torch.tensor([[1, 2, 3, 0, 4, 2],
                               [0, 0, 0, 1, 2, 3]])
    edge_weight = torch.tensor([0.5, 0.3, 0.2, 1.0, 1.0, 1.0])
    out = conv(x, edge_index, edge_weight)
    torch.testing.assert_close(out, dense_reference(conv, x, x, edge_index, edge_weight))
    norms = out.norm(dim=1)
    torch.testing.assert_close(norms[norms > 0], torch.ones(int((norms > 0).sum())))
    assert bool((norms > 0).all())


def test_bipartite_hop_and_hand_computed_case():
    conv = PinSAGEConv(2, 2, hidden_channels=2)
    with torch.no_grad():
        conv.lin_neighbor.weight.copy_(torch.eye(2))
        conv.lin_neighbor.bias.zero_()
        conv.lin_out.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0],
                                                [0.0, 0.0, 0.0, 1.0]]))
        conv.lin_out.bias.zero_()
    x_src = torch.tensor([[1.0, 0.0], [3.0, -1.0], [0.0, 4.0]])  # target 0 is x_src[0]
    edge_index = torch.tensor([[1, 2], [0, 0]])
    edge_weight = torch.tensor([0.75, 0.25])
    out = conv((x_src, x_src[:1]), edge_index, edge_weight)
    # n = 0.75 relu([3, -1]) + 0.25 relu([0, 4]) = [2.25, 1]; z = relu([1 + 2.25, 1]) = [3.25, 1]
    expected = torch.tensor([[3.25, 1.0]])
    torch.testing.assert_close(out, expected / expected.norm())
    assert out.shape == (1, 2)


def test_gradients_and_reset():
    conv = PinSAGEConv(4, 4)
    x = torch.randn(3, 4, requires_grad=True)
    out = conv(x, torch.tensor([[1, 2], [0, 0]]), torch.tensor([0.5, 0.5]))
    out.sum().backward()
    assert x.grad is not None and conv.lin_neighbor.weight.grad is not None
    before = conv.lin_out.weight.clone()
    conv.reset_parameters()
    assert not torch.equal(before, conv.lin_out.weight)
    assert "PinSAGEConv(4, 4" in repr(conv)
