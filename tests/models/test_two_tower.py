"""Two-tower and YouTube DNN: towers, the loss they hand to sampled_softmax_loss, the
streaming estimator, and learning a community structure."""
from __future__ import annotations

import pytest
import torch

from graphrec.graph.build import ITEM, USER, build_interaction_graph
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING
from graphrec.graph.split import leave_one_out
from graphrec.models import build_model
from graphrec.models.two_tower import SENet, TwoTower
from graphrec.models.youtube_dnn import YouTubeDNN
from graphrec.nn.losses import sampled_softmax_loss
from graphrec.sampling.sequence_batches import SequenceBatch
from graphrec.train.trainer import TrainConfig, Trainer


def test_senet_gates_fields_with_weights_in_zero_one():
    layer = SENet(3, reduction=1)
    fields = torch.randn(5, 3, 4)
    out = layer(fields)
    weights = out / fields
    assert out.shape == fields.shape
    assert ((weights > 0) & (weights < 1)).all()
    # one weight per field: constant along the embedding axis
    torch.testing.assert_close(weights, weights[..., :1].expand_as(weights))


def test_user_tower_pools_each_prefix():
    model = TwoTower(3, 6, embedding_dim=4, hidden_dims=(), normalize=False, item_tower=False)
    items = torch.tensor([[PADDING, 2, 5, 1]])
    hidden = model.encode(items, torch.arange(4), torch.zeros_like(items))
    e = model.item_embedding.weight
    linear = model.user_tower[0]
    prefix_mean = torch.stack([e[2], (e[2] + e[5]) / 2, (e[2] + e[5] + e[1]) / 3])
    expected = linear(torch.cat([prefix_mean, e[[2, 5, 1]]], dim=1))
    torch.testing.assert_close(hidden[0, 1:], expected)
    # unit vectors when normalised
    model = TwoTower(3, 6, embedding_dim=4)
    norms = model.encode(items, torch.arange(4), torch.zeros_like(items)).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    torch.testing.assert_close(model.item_vectors().norm(dim=-1), torch.ones(6))


def test_loss_is_in_batch_softmax_with_the_estimators_log_q():
    torch.manual_seed(0)
    model = TwoTower(3, 10, embedding_dim=4, temperature=0.5, frequency_buckets=128)
    items = torch.tensor([[PADDING, 1, 2], [3, 4, 1]])
    targets = torch.tensor([[PADDING, 2, 3], [4, 1, 2]])
    batch = SequenceBatch(users=torch.tensor([0, 1]), items=items, targets=targets,
                          positions=torch.arange(3), times=torch.zeros_like(items))
    loss = model.loss(batch)
    assert int(model.frequency.time) == 5  # the five targets were recorded
    valid = targets != PADDING
    query = model.encode(items, torch.arange(3), torch.zeros_like(items))[valid]
    ids = targets[valid]
    log_q = (model.frequency.probability(ids) * 5).log().float()
    expected = sampled_softmax_loss(query, model.item_vectors(ids), temperature=0.5,
                                    positive_ids=ids, log_q_positive=log_q)
    torch.testing.assert_close(loss, expected)
    model.eval()
    model.loss(batch)
    assert int(model.frequency.time) == 5  # evaluation does not feed the estimator


def test_youtube_dnn_scores_against_the_item_table():
    model = YouTubeDNN(3, 7, embedding_dim=4, hidden_dims=(8,))
    assert model.item_tower is None and not model.normalize and model.temperature == 1.0
    torch.testing.assert_close(model.output_items(), model.item_embedding.weight)
    assert model.user_tower[0].out_features == 8 and isinstance(model.user_tower[1],
                                                                torch.nn.ReLU)
    with pytest.raises(ValueError, match="in_batch=False needs num_negatives"):
        TwoTower(3, 7, in_batch=False)
    with pytest.raises(ValueError, match="negatives must be one of"):
        TwoTower(3, 7, negatives="hard")


def _communities(num_users=60, num_items=40, per_user=10, seed=0):
    """Users draw items from their own half of the catalogue."""
    g = torch.Generator().manual_seed(seed)
    users, items = [], []
    for user in range(num_users):
        pool = torch.arange(user % 2, num_items, 2)
        chosen = pool[torch.randperm(pool.numel(), generator=g)[:per_user]]
        users += [user] * per_user
        items += chosen.tolist()
    return build_interaction_graph(users, items, times=torch.arange(len(users)))


@pytest.mark.parametrize("name,settings", [
    ("two_tower", dict(embedding_dim=16, hidden_dims=(16,), maxlen=8, temperature=0.1,
                       frequency_buckets=256)),
    ("two_tower", dict(embedding_dim=16, hidden_dims=(16,), maxlen=8, temperature=0.1,
                       senet=True, num_negatives=16, frequency_buckets=256)),
    ("youtube_dnn", dict(embedding_dim=16, hidden_dims=(16,), maxlen=8, num_negatives=16,
                         frequency_buckets=256)),
])
def test_learns_the_community_structure(name, settings):
    torch.manual_seed(0)
    split = leave_one_out(_communities())
    model = build_model(name, split.train, **settings)
    config = TrainConfig(epochs=30, batch_size=32, lr=1e-2, device="cpu", progress=False,
                         seed=0, patience=0)
    train = Interactions.from_graph(split.train)
    Trainer(model, config).fit(train)
    model.eval()
    with torch.no_grad():
        scores = model.scorer_from(train)(torch.arange(60))
    top = scores.topk(10, dim=1).indices
    raw_item = torch.tensor(split.train[ITEM].id_map.raw_ids)
    raw_user = torch.tensor(split.train[USER].id_map.raw_ids)
    # items of the user's own half (same parity) dominate the top 10; chance is 0.5
    own = (raw_item[top] % 2 == raw_user.unsqueeze(1) % 2).double().mean()
    assert own > 0.9, float(own)


def test_youtube_dnn_loss_is_sampled_softmax_over_frequency_negatives():
    torch.manual_seed(0)
    model = YouTubeDNN(3, 10, embedding_dim=4, hidden_dims=(8,), num_negatives=4,
                       frequency_buckets=64)
    items = torch.tensor([[PADDING, 1, 2], [3, 4, 1]])
    targets = torch.tensor([[PADDING, 2, 3], [4, 1, 2]])
    log_q = torch.linspace(-3, -1, 10)
    negatives = torch.tensor([2, 7, 7, 0])  # 2 is a target: an accidental hit there
    batch = SequenceBatch(users=torch.tensor([0, 1]), items=items, targets=targets,
                          positions=torch.arange(3), times=torch.zeros_like(items),
                          negatives=negatives, log_q=log_q)
    valid = targets != PADDING
    query = model.encode(items, torch.arange(3), torch.zeros_like(items))[valid]
    ids = targets[valid]
    table = model.item_embedding.weight
    # the model adds log N to every log q; any common shift cancels in the softmax
    expected = sampled_softmax_loss(query, table[ids], table[negatives], positive_ids=ids,
                                    negative_ids=negatives, log_q_positive=log_q[ids] + 1.0,
                                    log_q_negative=log_q[negatives] + 1.0, in_batch=False)
    torch.testing.assert_close(model.loss(batch), expected)
