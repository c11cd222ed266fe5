"""Hybrid MF: representations are sums of feature embeddings; every loss trains."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.graph.feature_matrix import node_feature_matrix
from graphrec.graph.interactions import Interactions
from graphrec.models import build_model
from graphrec.train.trainer import TrainConfig, Trainer


def graph_with_features() -> HeteroData:
    graph = HeteroData()
    graph["user"].num_nodes = 4
    graph["item"].num_nodes = 6
    graph["user"].x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    graph["user"].feature_names = ["group:a", "group:b"]
    graph["item"].x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0],
                                    [0.0, 1.0], [1.0, 1.0]])
    graph["item"].feature_names = ["genre:x", "genre:y"]
    edge_index = torch.tensor([[0, 0, 1, 1, 2, 2, 3, 3], [0, 3, 2, 4, 0, 3, 2, 4]])
    graph["user", "interacts", "item"].edge_index = edge_index
    return graph


def test_representation_is_the_weighted_sum_of_feature_embeddings():
    graph = graph_with_features()
    model = build_model("hybrid", graph, embedding_dim=5)
    torch.nn.init.normal_(model.user_bias.weight)
    torch.nn.init.normal_(model.item_bias.weight)
    for node_type, table, bias in (("user", model.user_embedding, model.user_bias),
                                   ("item", model.item_embedding, model.item_bias)):
        dense = node_feature_matrix(graph, node_type).to_dense()
        rep, b = model.represent(node_type)
        assert torch.allclose(rep, dense @ table.weight, atol=1e-6)
        assert torch.allclose(b, (dense @ bias.weight).view(-1), atol=1e-6)
    # item 1 (both genres): identity + (genre x + genre y) / 2, by hand
    item_rep, _ = model.represent("item", torch.tensor([1]))
    weight = model.item_embedding.weight
    assert torch.allclose(item_rep[0], weight[1] + 0.5 * weight[6] + 0.5 * weight[7], atol=1e-6)
    # scores: p_u . q_i + b_u + b_i, from the scorer, forward and the exported embeddings
    users, items = model.represent("user")[0], model.represent("item")[0]
    ub, ib = model.represent("user")[1], model.represent("item")[1]
    expected = users @ items.t() + ub.unsqueeze(1) + ib
    assert torch.allclose(model.scorer()(torch.arange(4)), expected, atol=1e-5)
    assert torch.allclose(model(torch.arange(4), torch.arange(6).repeat(4, 1)), expected,
                          atol=1e-5)
    user_emb, item_emb = model.embeddings()
    assert torch.allclose(user_emb @ item_emb.t(), expected, atol=1e-5)


def test_features_only_and_identity_only():
    graph = graph_with_features()
    features_only = build_model("hybrid", graph, identity=False)
    assert [f.name for f in features_only.item_fields] == ["genre"]
    # items 0 and 3 have the same features: the same scores for every user
    scores = features_only.scorer()(torch.arange(4))
    assert torch.allclose(scores[:, 0], scores[:, 3], atol=1e-6)
    identity_only = build_model("hybrid", graph, use_features=False)
    assert [f.name for f in identity_only.item_fields] == ["identity"]
    with pytest.raises(ValueError, match="identity=True or use_features=True"):
        build_model("hybrid", graph, identity=False, use_features=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        build_model("hybrid", graph, loss="hinge")


@pytest.mark.parametrize("loss", ["warp", "kos_warp", "bpr", "logistic"])
def test_every_loss_learns_the_groups(loss):
    # users of group a like genre-x-only items (0, 3), group b genre-y-only items (2, 4)
    graph = graph_with_features()
    torch.manual_seed(0)
    model = build_model("hybrid", graph, embedding_dim=8, loss=loss, kos_k=1, kos_n=2)
    train = Interactions.from_graph(graph)
    config = TrainConfig(epochs=150, batch_size=8, lr=0.05, device="cpu", progress=False,
                         patience=0)
    Trainer(model, config).fit(train)
    scores = model.scorer()(torch.arange(4))
    liked = torch.tensor([[0, 3], [2, 4], [0, 3], [2, 4]])
    other = torch.tensor([[2, 4], [0, 3], [2, 4], [0, 3]])
    assert bool((scores.gather(1, liked).min(1).values
                 > scores.gather(1, other).max(1).values).all())
