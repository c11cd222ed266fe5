"""Item inputs read from the graph: tag bags, tag popularity, the combined layer-0 inputs
(hand-computed small cases)."""
import math

import torch

from graphrec.graph import build_interaction_graph
from graphrec.graph.build import HAS_TAG
from graphrec.graph.item_features import (
    TagBags,
    item_input_features,
    tag_popularity,
    top_tags,
)


def _graph(tags: bool = True, features: bool = True):
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]) if features else None
    graph = build_interaction_graph([0, 0, 1], [0, 1, 2], user_ids=range(2), item_ids=range(4),
                                    item_features=x)
    if tags:
        # item 0: tag 2 (count 3), tag 0 (count 1), tag 1 (count 3); item 1: tag 1 (count 2);
        # item 2: none; item 3 (no interactions): tag 0 (count 7)
        graph["tag"].num_nodes = 3
        graph[HAS_TAG].edge_index = torch.tensor([[0, 0, 0, 1, 3], [2, 0, 1, 1, 0]])
        graph[HAS_TAG].edge_weight = torch.tensor([3.0, 1.0, 3.0, 2.0, 7.0])
    return graph


def test_top_tags_rank_by_count_then_tag_and_pad():
    bags = top_tags(_graph(), max_tags=2)
    assert isinstance(bags, TagBags) and bags.num_tags == 3
    # item 0 keeps tags 1 and 2 (count 3 each, the smaller id first) and drops tag 0
    assert bags.index.tolist() == [[1, 2], [1, 3], [3, 3], [0, 3]]
    torch.testing.assert_close(bags.weight, torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.0, 0.0],
                                                          [1.0, 0.0]]))
    wide = top_tags(_graph(), max_tags=4)
    assert wide.index[0].tolist() == [1, 2, 0, 3]
    torch.testing.assert_close(wide.weight[0], torch.tensor([3.0, 3.0, 1.0, 0.0]) / 7)
    assert top_tags(_graph(tags=False)) is None


def test_tags_without_counts_count_once():
    graph = _graph()
    del graph[HAS_TAG].edge_weight
    bags = top_tags(graph, max_tags=3)
    assert bags.index[0].tolist() == [0, 1, 2]
    torch.testing.assert_close(bags.weight[0], torch.full((3,), 1 / 3))
    # log(1 + 3) / log(1 + 3), log(1 + 1) / log(4), 0, log(2) / log(4)
    expected = torch.tensor([1.0, math.log(2) / math.log(4), 0.0, math.log(2) / math.log(4)])
    torch.testing.assert_close(tag_popularity(graph).view(-1), expected)


def test_tag_popularity_is_log_total_count_over_its_maximum():
    value = tag_popularity(_graph())
    assert value.shape == (4, 1) and value.dtype == torch.float32
    totals = torch.tensor([7.0, 2.0, 0.0, 7.0])  # the cold item 3 has tags too
    torch.testing.assert_close(value.view(-1), torch.log1p(totals) / math.log(8))
    assert tag_popularity(_graph(tags=False)) is None


def test_item_input_features_combine_what_is_switched_on():
    graph = _graph()
    x, tags = item_input_features(graph, max_tags=2)
    assert x.shape == (4, 3)  # two features and the popularity column
    torch.testing.assert_close(x[:, :2], graph["item"].x)
    torch.testing.assert_close(x[:, 2:], tag_popularity(graph))
    assert torch.equal(tags.index, top_tags(graph, 2).index)
    x, tags = item_input_features(graph, use_tag_popularity=False)
    torch.testing.assert_close(x, graph["item"].x)
    x, tags = item_input_features(graph, use_features=False)
    torch.testing.assert_close(x, tag_popularity(graph))  # popularity alone
    x, tags = item_input_features(graph, use_tags=False)
    torch.testing.assert_close(x, graph["item"].x)  # no tags: no popularity either
    assert tags is None
    assert item_input_features(graph, use_features=False, use_tags=False) == (None, None)
    x, tags = item_input_features(_graph(tags=False, features=False))
    assert x is None and tags is None
