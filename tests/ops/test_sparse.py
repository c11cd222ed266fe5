import pytest
import torch

from graphrec.ops import SparseOperator


def _dense_reference(edge_index, num_nodes, weight, normalize):
    adjacency = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    adjacency.index_put_((edge_index[1], edge_index[0]), weight.double(), accumulate=True)
    degree = adjacency.sum(1)
    if normalize == "sym":
        inv = degree.pow(-0.5).masked_fill(degree == 0, 0)
        return inv.view(-1, 1) * adjacency * inv.view(1, -1)
    if normalize == "row":
        return degree.reciprocal().masked_fill(degree == 0, 0).view(-1, 1) * adjacency
    return adjacency


@pytest.mark.parametrize("normalize, directed", [
    ("sym", False), ("row", False), ("none", False), ("row", True), ("none", True)])
def test_operator_matches_dense_reference_with_gradients(normalize, directed):
    generator = torch.Generator().manual_seed(0)
    num_nodes = 9
    edge_index = torch.randint(0, num_nodes - 1, (2, 30), generator=generator)  # node 8 isolated
    weight = torch.rand(edge_index.size(1), generator=generator) + 0.5
    if not directed:
        edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
        weight = torch.cat([weight, weight])
    operator = SparseOperator.from_edge_index(edge_index, num_nodes, weight, normalize)
    assert operator.symmetric == (not directed and normalize != "row")
    dense = _dense_reference(edge_index, num_nodes, weight, normalize).float()
    x = torch.randn(num_nodes, 4, generator=generator, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    upstream = torch.randn(num_nodes, 4, generator=generator)
    (operator.matmul(x) * upstream).sum().backward()
    (dense @ x_ref * upstream).sum().backward()
    assert torch.allclose(operator.matmul(x), dense @ x_ref, atol=1e-6)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-6)
    assert torch.allclose(operator.to_dense(), dense, atol=1e-6)


def test_rectangular_row_operator_and_float64():
    edge_index = torch.tensor([[0, 1, 1], [0, 0, 2]])  # sources in [0, 2), targets in [0, 3)
    operator = SparseOperator.from_edge_index(edge_index, (2, 3), normalize="row")
    expected = torch.tensor([[0.5, 0.5], [0.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    out = operator.matmul(x)
    assert out.dtype == torch.float64
    assert torch.allclose(out, expected @ x)
    out.sum().backward()
    assert torch.allclose(x.grad, expected.t() @ torch.ones(3, 3, dtype=torch.float64))
