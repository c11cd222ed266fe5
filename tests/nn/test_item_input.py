import pytest
import torch

from graphrec.nn import ItemInput


def test_item_input_is_projection_plus_tag_bag_plus_masked_id():
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    tag_index = torch.tensor([[0, 1], [1, 2], [2, 2], [0, 2]])  # padding tag 2
    tag_weight = torch.tensor([[0.25, 0.75], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    layer = ItemInput(4, 5, x, (tag_index, tag_weight, 2))
    layer.warm.copy_(torch.tensor([[1.0], [1.0], [0.0], [1.0]]))  # item 2 is cold
    items = torch.tensor([0, 1, 2, 3, 0])
    drop = torch.tensor([False, False, False, True, True])
    out = layer(items, drop)
    tags, ids = layer.tag_embedding.weight, layer.id_embedding.weight
    assert torch.equal(tags[2], torch.zeros(5))  # the padding row
    with torch.no_grad():
        expected = torch.stack([
            layer.lin(x[0]) + 0.25 * tags[0] + 0.75 * tags[1] + ids[0],
            layer.lin(x[1]) + tags[1] + ids[1],
            layer.lin(x[2]),  # cold: features only
            layer.lin(x[3]) + tags[0],  # dropped: no id embedding
            layer.lin(x[0]) + 0.25 * tags[0] + 0.75 * tags[1],
        ])
    torch.testing.assert_close(out.detach(), expected)
    assert repr(layer) == "ItemInput(4, 5, inputs=features+tags+id)"


def test_item_input_parts_and_reset():
    layer = ItemInput(3, 4, use_id_embedding=True)
    assert layer.lin is None and layer.tag_embedding is None
    assert layer(torch.tensor([0, 1, 2])).shape == (3, 4)
    before = layer.id_embedding.weight.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.id_embedding.weight)
    assert repr(layer) == "ItemInput(3, 4, inputs=id)"
    with pytest.raises(ValueError, match="needs item features, tags or an id embedding"):
        ItemInput(3, 4, use_id_embedding=False)
    # the warm mask is state (saved with the weights); the features are not
    keys = set(ItemInput(3, 4, torch.ones(3, 2)).state_dict())
    assert "warm" in keys and "x" not in keys
