import math

import pytest
import torch

from graphrec.nn import EGESConv


def _example():
    # 3 items, d = 2; field 1 "genre" (multi-valued, 3 values), field 2 "year" (2 values)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    genre = torch.tensor([[10.0, 0.0], [0.0, 20.0], [4.0, 4.0]])
    year = torch.tensor([[-1.0, -1.0], [3.0, 0.0]])
    genre_edges = torch.tensor([[0, 0, 1], [0, 1, 2]])  # item 0: genres 0, 1; item 1: genre 2
    year_edges = torch.tensor([[0, 2], [1, 0]])         # item 0: year 1; item 2: year 0
    return x, [genre, year], [genre_edges, year_edges]


def test_equals_hand_computed_attention_weighted_mean():
    x, side, edges = _example()
    conv = EGESConv(3, 2)
    with torch.no_grad():
        conv.attention.copy_(torch.tensor([[0.0, math.log(2.0), math.log(3.0)],
                                           [1.0, 2.0, 5.0],
                                           [0.5, 9.0, 0.5]]))
    out, weights = conv(x, side, edges, return_attention_weights=True)
    # item 0: id (1,0) w 1/6, genre mean (5,10) w 2/6, year (3,0) w 3/6
    expected0 = (torch.tensor([1.0, 0.0]) * 1 + torch.tensor([5.0, 10.0]) * 2
                 + torch.tensor([3.0, 0.0]) * 3) / 6
    # item 1: no year -> softmax over (id, genre) logits (1, 2)
    w1 = torch.softmax(torch.tensor([1.0, 2.0]), 0)
    expected1 = w1[0] * torch.tensor([0.0, 1.0]) + w1[1] * torch.tensor([4.0, 4.0])
    # item 2: no genre -> (id, year) with equal logits 0.5, 0.5
    expected2 = (torch.tensor([2.0, 2.0]) + torch.tensor([-1.0, -1.0])) / 2
    assert torch.allclose(out, torch.stack([expected0, expected1, expected2]), atol=1e-6)
    assert torch.allclose(weights.sum(1), torch.ones(3))
    assert torch.allclose(weights[0], torch.tensor([1 / 6, 2 / 6, 3 / 6]))
    assert weights[1, 2] == 0 and weights[2, 1] == 0


def test_ges_is_plain_mean_and_cold_items_use_mean_logits():
    x, side, edges = _example()
    ges = EGESConv(3, 2, attention=False)
    out = ges(x, side, edges)
    assert torch.allclose(out[0], (torch.tensor([1.0, 0.0]) + torch.tensor([5.0, 10.0])
                                   + torch.tensor([3.0, 0.0])) / 3)
    conv = EGESConv(3, 2)
    with torch.no_grad():
        conv.attention.copy_(torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [4.0, 4.0, 4.0]]))
    has_id = torch.tensor([True, False, True])
    out, weights = conv(x, side, edges, has_id=has_id, return_attention_weights=True)
    # item 1 is cold: no id, only genre available -> its genre embedding with weight 1
    assert torch.allclose(weights[1], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(out[1], torch.tensor([4.0, 4.0]))
    # the default logits are the mean over warm items: (2, 3, 2)
    assert torch.allclose(conv.logits(has_id)[1], torch.tensor([2.0, 3.0, 2.0]))


def test_item_without_any_field_is_zero_and_index_matches_full():
    x, side, edges = _example()
    conv = EGESConv(3, 2)
    torch.nn.init.normal_(conv.attention)
    has_id = torch.tensor([True, True, False])
    full = conv(x, side, [edges[0], edges[1][:, :1]], has_id=has_id)
    assert torch.equal(full[2], torch.zeros(2))  # cold, no genre, year edge removed
    full = conv(x, side, edges, has_id=has_id)
    part = conv(x, side, edges, has_id=has_id, index=torch.tensor([2, 0]))
    assert torch.allclose(part, full[[2, 0]])


def test_gradients_reach_every_table_and_repr():
    x, side, edges = _example()
    x.requires_grad_()
    for table in side:
        table.requires_grad_()
    conv = EGESConv(3, 2)
    conv(x, side, edges).sum().backward()
    assert x.grad is not None and all(t.grad is not None for t in side)
    assert conv.attention.grad is not None
    assert "EGESConv(num_items=3, num_fields=2, attention=True)" == repr(conv)
    with pytest.raises(ValueError, match="2 side-information fields"):
        conv(x, side[:1], edges[:1])
