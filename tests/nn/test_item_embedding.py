"""The shared item table: padding, sharing with graph models, gradients from both losses."""
from __future__ import annotations

import pytest
import torch

from graphrec.graph import build_interaction_graph, leave_one_out
from graphrec.graph.interactions import Interactions
from graphrec.models import MF, LightGCN, SASRec
from graphrec.nn import ItemEmbedding
from graphrec.sampling.batches import PairBatches


def test_padding_is_zero_and_gets_no_gradient():
    table = ItemEmbedding(5, 3)
    items = torch.tensor([[-1, 0, 4], [-1, -1, 2]])
    out = table(items)
    assert out.shape == (2, 3, 3)
    assert (out[0, 0] == 0).all() and (out[1, :2] == 0).all()
    torch.testing.assert_close(out[0, 1], table.weight[0])
    out.sum().backward()
    assert table.weight.grad[[0, 2, 4]].ne(0).all()
    assert (table.weight.grad[[1, 3]] == 0).all()
    assert table.weight.shape == (5, 3)  # no padding row: graph indices unchanged


def test_shape_mismatch_and_load():
    with pytest.raises(ValueError, match="needs 6 x 4"):
        MF(3, 6, embedding_dim=4, item_embedding=ItemEmbedding(5, 4))
    table = ItemEmbedding(5, 3)
    table.load_(torch.ones(5, 3))
    assert (table.weight == 1).all()
    with pytest.raises(ValueError, match="shape"):
        table.load_(torch.ones(4, 3))


def _toy():
    users = [u for u in range(6) for _ in range(5)]
    items = [(u + k) % 9 for u in range(6) for k in range(5)]
    times = [k for _ in range(6) for k in range(5)]
    graph = build_interaction_graph(users, items, times=times, keep_order=True)
    return leave_one_out(graph)


@pytest.mark.parametrize("graph_model", ["mf", "lightgcn"])
def test_graph_and_sequence_models_share_one_parameter(graph_model):
    split = _toy()
    num_users, num_items = split.train["user"].num_nodes, split.train["item"].num_nodes
    table = ItemEmbedding(num_items, 8)
    before = table.weight.detach().clone()
    if graph_model == "mf":
        graph = MF(num_users, num_items, embedding_dim=8, item_embedding=table)
    else:
        graph = LightGCN(num_users, num_items, split.train["user", "interacts", "item"].edge_index,
                         embedding_dim=8, item_embedding=table)
    sequence = SASRec(num_users, num_items, embedding_dim=8, dropout=0.0, item_embedding=table)
    torch.testing.assert_close(table.weight.detach(), before)  # models do not re-initialise it
    assert graph.item_embedding.weight is sequence.item_embedding.weight is table.weight
    graph_items = graph()[1]
    assert graph_items.shape == (num_items, 8)

    train = Interactions.from_graph(split.train)
    pair_batch = next(iter(PairBatches(train, batch_size=64)))
    seq_batch = next(iter(sequence.train_batches(train, 64, "cpu", 0)))
    graph.loss(pair_batch).backward()
    graph_grad = table.weight.grad.clone()
    assert graph_grad.abs().sum() > 0
    table.weight.grad = None
    sequence.loss(seq_batch).backward()
    sequence_grad = table.weight.grad.clone()
    assert sequence_grad.abs().sum() > 0
    table.weight.grad = None
    (graph.loss(pair_batch) + sequence.loss(seq_batch)).backward()
    torch.testing.assert_close(table.weight.grad, graph_grad + sequence_grad)


def test_default_graph_models_are_unchanged():
    split = _toy()
    edge_index = split.train["user", "interacts", "item"].edge_index
    model = LightGCN(6, 9, edge_index, embedding_dim=4)
    assert model.embedding.weight.shape == (15, 4) and model.item_embedding is None
    assert isinstance(MF(6, 9).item_embedding, torch.nn.Embedding)
