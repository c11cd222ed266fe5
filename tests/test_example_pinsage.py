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


def test_load_adds_release_date_encoding_to_movielens_only(load_example, data_root):
    example = load_example("pinsage")
    dataset, loo = example.load("movielens-100k", data_root, 0)
    x = dataset.graph["item"].x
    assert x.shape == (1682, 21 + 32)
    present = ~torch.isnan(dataset.graph["item"].release_day)
    torch.testing.assert_close(x[present, 21:].sum(1), torch.ones(int(present.sum())))
    assert x[~present, 21:].abs().sum() == 0  # the movie without a date
    # Toy Story and GoldenEye share a release date, so their encodings are equal
    torch.testing.assert_close(x[0, 21:], x[1, 21:])
    assert loo.train["item"].x.shape == x.shape  # the split carries the features
    plain, _ = example.load("movielens-100k", data_root, 0, release_dates=False)
    assert plain.graph["item"].x.shape == (1682, 21)
