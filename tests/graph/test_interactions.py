import pytest
import torch

from graphrec.graph.interactions import Interactions


def test_csr_membership_rows_and_degrees():
    edge_index = torch.tensor([[2, 0, 0, 2, 0], [1, 3, 0, 1, 2]])  # (2, 1) duplicated
    inter = Interactions(edge_index, num_users=4, num_items=5)
    assert inter.num_interactions == 4
    assert inter.indptr.tolist() == [0, 3, 3, 4, 4]
    assert inter.indices.tolist() == [0, 2, 3, 1]
    assert inter.user_degree().tolist() == [3, 0, 1, 0]
    assert inter.item_degree().tolist() == [1, 1, 1, 1, 0]
    users = torch.tensor([0, 0, 1, 2, 3])
    items = torch.tensor([3, 1, 0, 1, 4])
    assert inter.contains(users, items).tolist() == [True, False, False, True, False]
    row, item = inter.rows(torch.tensor([2, 0]))
    assert row.tolist() == [0, 1, 1, 1] and item.tolist() == [1, 0, 2, 3]


def test_out_of_range_ids_are_rejected():
    with pytest.raises(ValueError, match="item index out of range"):
        Interactions(torch.tensor([[0], [5]]), num_users=1, num_items=5)
    with pytest.raises(ValueError, match="user index out of range"):
        Interactions(torch.tensor([[-1], [0]]), num_users=1, num_items=5)


def test_contains_is_false_outside_the_item_range():
    # key u * num_items + i: item -1 of user 1 would alias item 2 of user 0 without the test
    interactions = Interactions(torch.tensor([[0, 1], [2, 0]]), 2, 3)
    users = torch.tensor([1, 1, 0, 0])
    items = torch.tensor([-1, 0, 2, 3])
    assert interactions.contains(users, items).tolist() == [False, True, True, False]
