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


# ------------------------------------------------------------------ side features, example age
def _matrix():
    """Three rows, fields ``genre`` (multi-hot, 3 columns) and ``age`` (categorical, 2):
    row 0 = genres {0, 2} and age 1; row 1 = genre 1; row 2 = nothing."""
    from graphrec.graph.feature_matrix import FeatureField, from_entries
    fields = (FeatureField("genre", "multi_hot", 0, 3, ("g0", "g1", "g2")),
              FeatureField("age", "categorical", 3, 2, ("a0", "a1")))
    return from_entries(torch.tensor([0, 0, 0, 1]), torch.tensor([0, 2, 4, 1]),
                        torch.tensor([0.5, 0.5, 1.0, 1.0]), 3, fields)


def test_field_embedding_sums_each_fields_weighted_columns():
    from graphrec.models.two_tower import FieldEmbedding
    layer = FieldEmbedding(_matrix(), embedding_dim=2)
    w = layer.table.weight
    out = layer(torch.tensor([[2, 0], [1, 1]]))
    assert out.shape == (2, 2, 2, 2)  # rows [2, 2], 2 fields, d = 2
    torch.testing.assert_close(out[0, 1, 0], 0.5 * w[0] + 0.5 * w[2])  # row 0's genres
    torch.testing.assert_close(out[0, 1, 1], w[4])  # row 0's age
    torch.testing.assert_close(out[1, 0, 0], w[1])
    torch.testing.assert_close(out[1, 0, 1], torch.zeros(2))  # row 1 has no age
    torch.testing.assert_close(out[0, 0], torch.zeros(2, 2))  # row 2 has nothing


def test_item_tower_reads_the_item_side_features():
    model = TwoTower(2, 3, embedding_dim=2, hidden_dims=(), normalize=False,
                     item_features=_matrix())
    e, f = model.item_embedding.weight, model.item_fields.table.weight
    linear = model.item_tower[0]
    assert linear.in_features == 3 * 2  # id + genre + age fields
    expected = linear(torch.cat([e[0], 0.5 * f[0] + 0.5 * f[2], f[4]]))
    torch.testing.assert_close(model.item_vectors(torch.tensor([0]))[0], expected)
    torch.testing.assert_close(model.item_vectors()[0], expected)
    # the side features move the output: item 0's vector changes with its age embedding
    with torch.no_grad():
        f[4] += 1.0
    assert not torch.allclose(model.item_vectors()[0], expected)
    with pytest.raises(ValueError, match="item_features need item_tower=True"):
        TwoTower(2, 3, item_tower=False, item_features=_matrix())
    with pytest.raises(ValueError, match="item_features has 3 rows for 4 items"):
        TwoTower(2, 4, item_features=_matrix())


def test_user_tower_reads_user_features_and_new_users_get_zeros():
    model = TwoTower(3, 5, embedding_dim=2, hidden_dims=(), normalize=False,
                     user_features=_matrix(), senet=True)
    assert model.senet.num_fields == 4  # history mean, last item, genre, age
    items = torch.tensor([[PADDING, 1, 3]])
    e, f = model.item_embedding.weight, model.user_fields.table.weight
    fields = torch.stack([(e[1] + e[3]) / 2, e[3], 0.5 * f[0] + 0.5 * f[2], f[4]])
    gated = model.senet(fields)
    expected = model.user_tower[0](gated.flatten())
    hidden = model.encode(items, torch.arange(3), torch.zeros_like(items),
                          users=torch.tensor([0]))
    torch.testing.assert_close(hidden[0, -1], expected)
    # SENet's weights: one per field, in (0, 1)
    weights = gated / fields
    assert ((weights > 0) & (weights < 1)).all()
    # a new user (users=None) has zero feature fields
    zero = torch.stack([(e[1] + e[3]) / 2, e[3], torch.zeros(2), torch.zeros(2)])
    torch.testing.assert_close(model.encode(items, torch.arange(3), torch.zeros_like(items))
                               [0, -1], model.user_tower[0](model.senet(zero).flatten()))


def test_from_graph_builds_feature_matrices_from_the_graph():
    graph = _communities(num_users=6, num_items=8, per_user=4)
    graph[USER].x = torch.tensor([[1.0, 0.0], [0.0, 1.0]] * 3)
    graph[USER].feature_names = ["gender:F", "gender:M"]
    graph["genre"].num_nodes = 2
    graph[ITEM, "has_genre", "genre"].edge_index = torch.stack(
        [torch.arange(8), torch.arange(8) % 2])
    model = build_model("two_tower", graph, embedding_dim=4, hidden_dims=(4,))
    assert [f.name for f in model.user_fields.fields] == ["gender"]
    assert [f.name for f in model.item_fields.fields] == ["has_genre"]
    assert model.user_tower[0].in_features == 3 * 4
    # without the item tower (YouTube DNN) the items are their table rows: no item features
    youtube = build_model("youtube_dnn", graph, embedding_dim=4, hidden_dims=(4,))
    assert youtube.item_fields is None and youtube.user_fields is not None
    plain = build_model("two_tower", graph, use_user_features=False, use_item_features=False)
    assert plain.user_fields is None and plain.item_fields is None


def test_example_age_is_relative_to_the_latest_training_time_and_zero_at_serving():
    from graphrec.models.two_tower import AgedSequenceBatches, example_ages
    ages = example_ages(torch.tensor([100, 75, 0]), latest=100.0, span=100.0)
    torch.testing.assert_close(ages, torch.tensor([[0.0, 0.0, 0.0], [0.25, 0.0625, 0.5],
                                                   [1.0, 1.0, 1.0]]))
    # two users; user 0 at times 0, 10, 20, user 1 at 30, 40: training range [0, 40]
    graph = build_interaction_graph([0, 0, 0, 1, 1], [0, 1, 2, 3, 4],
                                    times=torch.tensor([0, 10, 20, 30, 40]))
    train = Interactions.from_graph(graph)
    model = YouTubeDNN(2, 5, embedding_dim=4, hidden_dims=(4,), maxlen=3, num_negatives=2,
                       frequency_buckets=64, example_age=True)
    batches = model.train_batches(train, batch_size=2, device="cpu", seed=0)
    assert isinstance(batches, AgedSequenceBatches) and len(batches) == 1
    batch = next(iter(batches))
    for row, user in enumerate(batch.users.tolist()):
        targets = batch.targets[row]
        age = batch.ages[row, :, 0]
        target_times = {1: 10, 2: 20, 4: 40}  # targets: items 1, 2 (user 0), 4 (user 1)
        for column, item in enumerate(targets.tolist()):
            want = 0.0 if item == PADDING else (40 - target_times[item]) / 40
            assert float(age[column]) == pytest.approx(want), (user, column)
    assert model.user_tower[0].in_features == 2 * 4 + 3
    model.loss(batch)  # the aged batch trains
    # serving feeds age 0: the scorer's vector is encode's with ages=None and with zeros
    model.eval()
    with torch.no_grad():
        scores = model.scorer_from(train)(torch.tensor([0]))
        items = torch.tensor([[0, 1, 2]])
        served = model.encode(items, torch.arange(3), torch.zeros_like(items),
                              users=torch.tensor([0]))[0, -1]
        zeros = model.encode(items, torch.arange(3), torch.zeros_like(items),
                             users=torch.tensor([0]), ages=torch.zeros(1, 3, 3))[0, -1]
        old = model.encode(items, torch.arange(3), torch.zeros_like(items),
                           users=torch.tensor([0]), ages=torch.ones(1, 3, 3))[0, -1]
    torch.testing.assert_close(scores[0], served @ model.output_items().t())
    torch.testing.assert_close(served, zeros)
    assert not torch.allclose(served, old)  # the age does enter the tower
