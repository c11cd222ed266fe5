import pytest
import torch
from torch_geometric.nn import LGConv

from graphrec.models.lightgcn import bipartite_edge_index
from graphrec.nn import LightGCNConv


def _bipartite(num_users=4, num_items=5):
    user_item = torch.tensor([[0, 0, 1, 2, 2, 3], [0, 1, 1, 2, 4, 4]])
    return user_item, bipartite_edge_index(user_item, num_users), num_users + num_items


def test_sym_matches_pyg_lgconv_and_dense_formula():
    _, edge_index, num_nodes = _bipartite()
    x = torch.randn(num_nodes, 8)
    out = LightGCNConv()(x, edge_index)
    assert torch.allclose(out, LGConv()(x, edge_index), atol=1e-6)
    adjacency = torch.zeros(num_nodes, num_nodes)
    adjacency[edge_index[1], edge_index[0]] = 1.0
    inv_sqrt = adjacency.sum(1).pow(-0.5).masked_fill(adjacency.sum(1) == 0, 0)
    dense = inv_sqrt.view(-1, 1) * adjacency * inv_sqrt.view(1, -1)
    assert torch.allclose(out, dense @ x, atol=1e-6)


def test_row_variant_with_residual_matches_bipartite_formula():
    user_item, edge_index, num_nodes = _bipartite()
    num_users, num_items = 4, 5
    x0 = torch.randn(num_nodes, 3)
    x = torch.randn(num_nodes, 3)
    out = LightGCNConv(normalize="row", alpha=0.1)(x, edge_index, x0=x0)
    rating = torch.zeros(num_users, num_items)
    rating[user_item[0], user_item[1]] = 1.0
    a_ui = rating / rating.sum(1, keepdim=True)  # D_u^-1 R
    a_iu = rating.t() / rating.t().sum(1, keepdim=True).clamp(min=1)  # D_i^-1 R^T; item 3 isolated
    users = a_ui @ x[num_users:] + 0.1 * x0[:num_users]
    items = a_iu @ x[:num_users] + 0.1 * x0[num_users:]
    assert torch.allclose(out, torch.cat([users, items]), atol=1e-6)
    assert torch.allclose(out[num_users + 3], 0.1 * x0[num_users + 3])  # no neighbours


@pytest.mark.parametrize("normalize", ["sym", "row"])
def test_backends_agree_in_values_and_gradients(normalize):
    _, edge_index, num_nodes = _bipartite()
    weight = torch.rand(edge_index.size(1)) + 0.5
    x = torch.randn(num_nodes, 6, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out = LightGCNConv(normalize, alpha=0.2)(x, edge_index, weight, x0=x)
    ref = LightGCNConv(normalize, alpha=0.2, backend="message_passing")(x_ref, edge_index, weight,
                                                                         x0=x_ref)
    assert torch.allclose(out, ref, atol=1e-5)
    out.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)


def test_operator_is_cached_and_rebuilt_for_a_new_graph():
    _, edge_index, num_nodes = _bipartite()
    conv = LightGCNConv()
    x = torch.randn(num_nodes, 2)
    conv(x, edge_index)
    first = conv.cache.operator
    conv(x, edge_index)
    assert conv.cache.operator is first  # same graph: not rebuilt
    other = edge_index[:, :-2].clone()
    conv(x, other)
    assert conv.cache.operator is not first
    uncached = LightGCNConv(cached=False)
    uncached(x, edge_index)
    assert uncached.cache.operator is None


def test_residual_needs_x0_and_repr():
    _, edge_index, num_nodes = _bipartite()
    with pytest.raises(ValueError, match="x0"):
        LightGCNConv(alpha=0.1)(torch.randn(num_nodes, 2), edge_index)
    assert repr(LightGCNConv("row", 0.1)) == (
        "LightGCNConv(normalize='row', alpha=0.1, backend='spmm')")
