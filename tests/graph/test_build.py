import numpy as np
import pytest
import torch

from graphrec.graph import (
    FOLLOWS,
    INTERACTS,
    ITEM,
    REV_INTERACTS,
    USER,
    IdMap,
    build_interaction_graph,
    graph_summary,
    num_friendships,
)


def test_ids_follow_first_seen_order_and_edges_are_sorted():
    graph = build_interaction_graph(["b", "a", "b"], [10, 20, 30])
    assert graph[USER].id_map.raw_ids == ["b", "a"]
    assert graph[ITEM].id_map.raw_ids == [10, 20, 30]
    # b=0 has items 10 (0) and 30 (2); a=1 has 20 (1); sorted by (user, item)
    assert graph[INTERACTS].edge_index.tolist() == [[0, 0, 1], [0, 2, 1]]
    assert torch.equal(graph[REV_INTERACTS].edge_index, graph[INTERACTS].edge_index.flip(0))


def test_duplicates_merge_weights_summed_and_earliest_time_kept():
    graph = build_interaction_graph(
        [1, 1, 2, 1], [5, 5, 5, 6], weights=[2.0, 3.0, 1.0, 4.0], times=[30, 10, 7, 20])
    store = graph[INTERACTS]
    assert store.edge_index.tolist() == [[0, 0, 1], [0, 1, 0]]
    assert store.edge_weight.tolist() == [5.0, 4.0, 1.0]
    assert store.time.tolist() == [10, 20, 7]
    latest = build_interaction_graph([1, 1], [5, 5], times=[30, 10], keep_time="last")
    assert latest[INTERACTS].time.tolist() == [30]


def test_social_edges_merge_drop_self_loops_and_add_users():
    graph = build_interaction_graph(
        ["u1", "u2"], ["i1", "i1"],
        social=(["u1", "u2", "u1", "u3", "u1"], ["u2", "u1", "u2", "u1", "u1"]))
    assert graph[USER].num_nodes == 3  # u3 only appears in the social pairs
    assert graph[FOLLOWS].edge_index.tolist() == [[0, 1, 2], [1, 0, 0]]
    assert num_friendships(graph) == 2
    assert graph_summary(graph) == {"num_users": 3, "num_items": 1, "num_interactions": 2,
                                    "num_social_edges": 3}


def test_fixed_id_lists_features_and_errors():
    features = np.arange(6, dtype=np.float32).reshape(3, 2)
    graph = build_interaction_graph([0, 2], [1, 0], user_ids=[0, 1, 2], item_ids=[0, 1],
                                    user_features=features)
    assert graph[USER].num_nodes == 3 and graph[ITEM].num_nodes == 2
    assert graph[USER].x.tolist() == features.tolist()
    with pytest.raises(ValueError, match="not in the given user id list"):
        build_interaction_graph([0, 5], [1, 0], user_ids=[0, 1, 2])
    with pytest.raises(ValueError, match=r"shape \[3, F\]"):
        build_interaction_graph([0], [0], user_ids=[0, 1, 2], user_features=np.ones((2, 1)))
    with pytest.raises(ValueError, match="differ in length"):
        build_interaction_graph([0, 1], [0])


def test_id_map_round_trip():
    id_map = IdMap(["x", "y"])
    assert id_map.index(["y", "x"]).tolist() == [1, 0]
    assert id_map.raw(torch.tensor([1])) == ["y"]
    with pytest.raises(KeyError, match="'z'"):
        id_map.index(["z"])
