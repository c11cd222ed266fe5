"""NCFTower: the paper's pyramid, the explicit layer stack, all-pairs scoring."""
import pytest
import torch

from graphrec.nn import NCFTower


def test_pyramid_widths_are_the_papers():
    tower = NCFTower(8, num_layers=3)  # the paper's [64, 32, 16, 8]
    assert [(lin.in_features, lin.out_features) for lin in tower.lins] == [
        (64, 32), (32, 16), (16, 8)]
    assert tower.embedding_dim == 32 and tower.in_channels == 64
    assert repr(tower) == "NCFTower([64, 32, 16, 8])"


def test_forward_is_relu_layers_over_the_concatenation():
    torch.manual_seed(0)
    tower = NCFTower(4, num_layers=2)
    user, item = torch.randn(5, 8), torch.randn(5, 8)
    hidden = torch.cat([user, item], dim=1)
    for lin in tower.lins:
        hidden = torch.relu(hidden @ lin.weight.t() + lin.bias)
    assert torch.allclose(tower(user, item), hidden, atol=1e-6)


def test_forward_all_equals_forward_on_every_pair():
    torch.manual_seed(1)
    tower = NCFTower(2, num_layers=3)
    users, items = torch.randn(3, 8), torch.randn(7, 8)
    every = tower.forward_all(users, items)
    assert every.shape == (3, 7, 2)
    pairs = tower(users.repeat_interleave(7, 0), items.repeat(3, 1)).view(3, 7, 2)
    assert torch.allclose(every, pairs, atol=1e-6)


def test_forward_all_keeps_gradients():
    tower = NCFTower(2, num_layers=2)
    users = torch.randn(2, 4, requires_grad=True)
    tower.forward_all(users, torch.randn(3, 4)).sum().backward()
    assert users.grad is not None and tower.lins[0].weight.grad is not None


@pytest.mark.parametrize("kwargs, match", [
    (dict(out_channels=0), "out_channels"), (dict(out_channels=4, num_layers=0), "num_layers"),
    (dict(out_channels=4, dropout=1.0), "dropout")])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NCFTower(**kwargs)
