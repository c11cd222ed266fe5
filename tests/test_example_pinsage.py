"""Helpers of examples/pinsage.py's cold-item report (exact small cases)."""
import torch

from graphrec.graph import build_interaction_graph


class _FixedScores:
    """A model whose item-to-item scores are a fixed matrix."""

    device = torch.device("cpu")

    def __init__(self, scores):
        self.scores = scores

    def eval(self):
        return self

    def item_scorer(self):
        return lambda items: self.scores[items]


def test_cold_share_counts_cold_items_in_top_k(load_example):
    example = load_example("pinsage")
    # 5 items; query 0 ranks 4, 3, 2, 1; query 1 ranks 0, 2, 3, 4 (itself excluded)
    scores = torch.tensor([[9.0, 1.0, 2.0, 3.0, 4.0],
                           [5.0, 9.0, 4.0, 3.0, 2.0],
                           [0.0, 0.0, 0.0, 0.0, 0.0],
                           [0.0, 0.0, 0.0, 0.0, 0.0],
                           [0.0, 0.0, 0.0, 0.0, 0.0]])
    is_cold = torch.tensor([False, False, False, True, True])
    model = _FixedScores(scores)
    # top-2: query 0 -> {4, 3} (both cold), query 1 -> {0, 2} (none)
    assert example.cold_share(model, torch.tensor([0, 1]), is_cold, k=2) == 0.5
    assert example.cold_share(model, torch.tensor([0]), is_cold, k=1) == 1.0


def test_items_with_features_tags_or_feature_rows(load_example):
    example = load_example("pinsage")
    x = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    graph = build_interaction_graph([0, 1], [0, 1], user_ids=range(2), item_ids=range(4),
                                    item_features=x)
    assert example.items_with_features(graph).tolist() == [True, False, False, True]
    graph["tag"].num_nodes = 1
    graph["item", "has_tag", "tag"].edge_index = torch.tensor([[2], [0]])
    assert example.items_with_features(graph).tolist() == [True, False, True, True]
