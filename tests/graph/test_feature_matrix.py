"""The shared user/item feature matrix: fields, weights, CSR gather, dropping fields."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.data import load_movielens_100k
from graphrec.graph.feature_matrix import FeatureField, from_entries, node_feature_matrix


def small_graph() -> HeteroData:
    graph = HeteroData()
    graph["user"].num_nodes = 3
    graph["item"].num_nodes = 4
    # age (numeric), gender one-hot (categorical), two genre flags (multi-hot)
    graph["user"].x = torch.tensor([[0.2, 1.0, 0.0], [0.5, 0.0, 1.0], [0.9, 1.0, 0.0]])
    graph["user"].feature_names = ["age", "gender:M", "gender:F"]
    graph["item"].x = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    graph["item"].feature_names = ["genre:a", "genre:b"]
    graph["tag"].num_nodes = 3
    graph["item", "has_tag", "tag"].edge_index = torch.tensor([[0, 0, 0, 2, 2], [0, 2, 2, 1, 2]])
    graph["user", "interacts", "item"].edge_index = torch.tensor([[0, 1], [1, 2]])
    return graph


def test_fields_and_weights_by_hand():
    graph = small_graph()
    items = node_feature_matrix(graph, "item")
    assert [(f.name, f.kind, f.start, f.size) for f in items.fields] == [
        ("identity", "identity", 0, 4), ("genre", "multi_hot", 4, 2),
        ("has_tag", "multi_hot", 6, 3)]
    expected = torch.zeros(4, 9)
    expected[torch.arange(4), torch.arange(4)] = 1.0
    expected[0, 4] = expected[0, 5] = 0.5          # two genres: mean
    expected[1, 5] = expected[3, 4] = 1.0
    expected[0, 6] = expected[0, 8] = 0.5          # the repeated (0, tag 2) edge counts once
    expected[2, 7] = expected[2, 8] = 0.5
    assert torch.equal(items.to_dense(), expected)
    assert torch.equal(items.to_sparse_csr().to_dense(), expected)

    users = node_feature_matrix(graph, "user", numeric="raw")
    assert [(f.name, f.kind) for f in users.fields] == [
        ("identity", "identity"), ("age", "numeric"), ("gender", "categorical")]
    ages = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    dense = users.to_dense()
    assert torch.allclose(dense[:, 3].double(), (ages - ages.mean()) / ages.std(unbiased=False),
                          atol=1e-6)
    assert torch.equal(dense[:, 4:], torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))


def test_numeric_bins_and_rbf():
    graph = HeteroData()
    graph["user"].num_nodes = 6
    graph["user"].x = torch.tensor([[1.0], [2.0], [3.0], [4.0], [math.nan], [6.0]])
    binned = node_feature_matrix(graph, "user", identity=False, num_bins=2)
    dense = binned.to_dense()
    # median of the present values (1,2,3,4,6) is 3: bins [1, 3) and [3, 6]
    assert torch.equal(dense, torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1], [0, 0], [0, 1]]))
    rbf = node_feature_matrix(graph, "user", identity=False, numeric="rbf", num_bins=4)
    sums = rbf.to_dense().sum(1)
    assert torch.allclose(sums, torch.tensor([1.0, 1, 1, 1, 0, 1]), atol=1e-5)


def test_gather_matches_rows_and_without_identity():
    items = node_feature_matrix(small_graph(), "item")
    dense = items.to_dense()
    rows = torch.tensor([2, 0, 0, 3])
    columns, offsets, weights = items.gather(rows)
    bag = torch.nn.EmbeddingBag(items.num_columns, 1, mode="sum")
    bag.weight.data = torch.eye(items.num_columns)[:, :1] * 0 + torch.arange(
        items.num_columns, dtype=torch.float).view(-1, 1)
    summed = bag(columns, offsets, per_sample_weights=weights).view(-1)
    assert torch.allclose(summed, dense[rows] @ torch.arange(items.num_columns).float())

    features_only = items.without("identity")
    assert [f.name for f in features_only.fields] == ["genre", "has_tag"]
    assert features_only.fields[0].start == 0 and features_only.num_columns == 5
    assert torch.equal(features_only.to_dense(), dense[:, 4:])
    with pytest.raises(KeyError, match="no feature fields"):
        items.without("colour")


def test_bad_input_is_refused():
    graph = small_graph()
    with pytest.raises(ValueError, match="numeric must be one of"):
        node_feature_matrix(graph, "user", numeric="log")
    with pytest.raises(ValueError, match="no node type"):
        node_feature_matrix(graph, "shop")
    with pytest.raises(ValueError, match="does not start at"):
        node_feature_matrix(graph, "user", relations=[("item", "has_tag", "tag")])
    empty = HeteroData()
    empty["user"].num_nodes = 2
    with pytest.raises(ValueError, match="no features and identity=False"):
        node_feature_matrix(empty, "user", identity=False)
    field = FeatureField("f", "multi_hot", 0, 2, ("a", "b"))
    with pytest.raises(ValueError, match="repeat"):
        from_entries(torch.tensor([0, 0]), torch.tensor([1, 1]), torch.ones(2), 1, [field])


def test_movielens_fields():
    root = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    root = Path(os.environ.get("GRAPHREC_DATA", root))
    if not (root / "ml-100k" / "u.data").is_file():
        pytest.skip("MovieLens-100K not available")
    graph = load_movielens_100k(root, download=False).graph
    users = node_feature_matrix(graph, "user", identity=False)
    assert [f.name for f in users.fields] == ["age/100", "gender", "occupation"]
    # every user: one age bin, one gender, one occupation
    assert torch.equal(users.crow.diff(), torch.full((943,), 3))
    items = node_feature_matrix(graph, "item", identity=False)
    assert items.field("genre").kind == "multi_hot" and items.field("genre").size == 19
    genre = items.field("genre")
    dense = items.to_dense()[:, genre.start:genre.start + genre.size]
    assert torch.allclose(dense.sum(1), torch.ones(1682))


def test_lastfm_tags_are_a_multi_hot_field():
    from graphrec.data import load_lastfm

    root = Path(os.environ.get("GRAPHREC_DATA",
                               Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
    try:
        graph = load_lastfm(root, download=False).graph
    except FileNotFoundError:
        pytest.skip("LastFM not available")
    items = node_feature_matrix(graph, "item", identity=False)
    assert [(f.name, f.kind) for f in items.fields] == [("has_tag", "multi_hot")]
    tagged = torch.unique(graph["item", "has_tag", "tag"].edge_index[0])
    sums = torch.zeros(items.num_rows).index_add_(0, items.row_index(), items.weights)
    # each tagged artist's tag weights are a mean (sum 1); untagged artists have none
    assert torch.allclose(sums[tagged], torch.ones(tagged.numel()), atol=1e-5)
    assert int((items.crow.diff() > 0).sum()) == tagged.numel()
