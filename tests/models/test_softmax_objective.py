"""The sampled-softmax (cosine) objective of MF and LightGCN, and its batch stream."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphrec.graph.interactions import Interactions
from graphrec.models import MF, LightGCN, LiteEIISRS, SocialLGN
from graphrec.sampling.batches import SharedNegativeBatch, SharedNegativeBatches
from graphrec.sampling.stream_state import load_stream_state, stream_state
from graphrec.train.trainer import TrainConfig, Trainer
from tests.models.test_saved import NUM_ITEMS, NUM_USERS, community_graph


def small_train() -> Interactions:
    return Interactions.from_graph(community_graph())


def test_shared_negative_batches_cover_every_pair_once_with_shared_negatives():
    train = small_train()
    stream = SharedNegativeBatches(train, batch_size=64, num_negatives=7, seed=3)
    batches = list(stream)
    assert len(batches) == len(stream) == -(-train.num_interactions // 64)
    pairs = torch.cat([torch.stack([b.users, b.pos_items]) for b in batches], dim=1)
    expected = train.edge_index
    key = lambda e: sorted(zip(e[0].tolist(), e[1].tolist(), strict=True))  # noqa: E731
    assert key(pairs) == key(expected)
    for batch in batches:
        assert batch.neg_items.shape == (7,)
        assert int(batch.neg_items.min()) >= 0 and int(batch.neg_items.max()) < NUM_ITEMS
    # deterministic for a seed, different for another; resumable mid-stream
    again = list(SharedNegativeBatches(train, batch_size=64, num_negatives=7, seed=3))
    assert all(torch.equal(a.neg_items, b.neg_items) for a, b in zip(batches, again, strict=True))
    other = list(SharedNegativeBatches(train, batch_size=64, num_negatives=7, seed=4))
    assert not all(torch.equal(a.neg_items, b.neg_items)
                   for a, b in zip(batches, other, strict=True))
    state = stream_state(stream)
    first = [b.neg_items for b in stream]
    load_stream_state(stream, state)
    assert all(torch.equal(a, b.neg_items) for a, b in zip(first, stream, strict=True))


@pytest.mark.parametrize("in_batch, logq, similarity",
                         [(False, False, "cosine"), (False, True, "cosine"),
                          (True, True, "cosine"), (True, False, "cosine"), (True, True, "dot"),
                          (False, False, "dot")])
def test_softmax_loss_is_the_softmax_by_hand(in_batch, logq, similarity):
    torch.manual_seed(0)
    model = MF(5, 6, embedding_dim=3, reg_weight=0.0, loss="sampled_softmax", num_negatives=3,
               temperature=0.5, in_batch=in_batch, logq=logq, similarity=similarity)
    positives = [1, 5, 2, 5]
    pos_log_q = torch.tensor([-1.0, -0.5, -2.0, -0.5])
    neg_log_q = torch.full((3,), -0.7)
    batch = SharedNegativeBatch(torch.tensor([0, 2, 4, 1]), torch.tensor(positives),
                                torch.tensor([0, 5, 3]), pos_log_q, neg_log_q)
    with torch.no_grad():
        loss = model.loss(batch)
    p = model.user_embedding.weight.detach().double().numpy()
    q = model.item_embedding.weight.detach().double().numpy()
    if similarity == "cosine":
        p = p / np.linalg.norm(p, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    total = 0.0
    for row, (user, pos) in enumerate(zip((0, 2, 4, 1), positives, strict=True)):
        # (item, log q) of every candidate; the row's positive first. A candidate with the
        # positive's id other than the positive itself is an accidental hit: left out
        candidates = [(pos, pos_log_q[row])]
        if in_batch:
            candidates += [(j, pos_log_q[k]) for k, j in enumerate(positives)
                           if k != row and j != pos]
        candidates += [(j, -0.7) for j in (0, 5, 3) if j != pos]
        # uniform negatives alone share one log q, which cancels: no correction
        logits = np.array([q[j] @ p[user] / 0.5 - (float(lq) if logq and in_batch else 0.0)
                           for j, lq in candidates])
        total += -(logits[0] - np.log(np.exp(logits).sum()))
    np.testing.assert_allclose(loss.item(), total / 4, rtol=1e-5)
    # the regulariser adds lambda / 2B over the user and positive ego rows
    model.reg_weight = 0.1
    raw_p = model.user_embedding.weight.detach()[[0, 2, 4, 1]]
    raw_q = model.item_embedding.weight.detach()[positives]
    penalty = 0.1 * (raw_p.pow(2).sum() + raw_q.pow(2).sum()) / 8
    with torch.no_grad():
        torch.testing.assert_close(model.loss(batch), loss + penalty)


def test_shared_negative_batches_carry_exact_log_q():
    train = small_train()
    stream = SharedNegativeBatches(train, batch_size=50, num_negatives=7, seed=0)
    share = train.item_degree().double() / train.num_interactions
    for batch in stream:
        expected = (len(batch) * share[batch.pos_items]).log().float()
        torch.testing.assert_close(batch.pos_log_q, expected)
        torch.testing.assert_close(batch.neg_log_q, torch.full((7,), np.log(7 / NUM_ITEMS),
                                                               dtype=torch.float32))


@pytest.mark.parametrize("cls", [MF, LightGCN, SocialLGN, LiteEIISRS])
def test_softmax_models_score_by_cosine(cls):
    graph = community_graph()
    torch.manual_seed(0)
    model = cls.from_graph(graph, embedding_dim=4, loss="sampled_softmax")
    users, items = model()
    torch.testing.assert_close(users.norm(dim=1), torch.ones(NUM_USERS))
    torch.testing.assert_close(items.norm(dim=1), torch.ones(NUM_ITEMS))
    assert model.num_negatives == 1024  # the softmax default
    assert isinstance(model.train_batches(small_train(), 32, "cpu", 0), SharedNegativeBatches)
    bpr = cls.from_graph(graph, embedding_dim=4)
    assert bpr.num_negatives == 1 and not bpr.cosine
    assert not torch.allclose(bpr()[1].norm(dim=1), torch.ones(NUM_ITEMS))
    # the inner-product softmax scores by the raw embeddings, exactly as bpr does
    torch.manual_seed(0)
    dot = cls.from_graph(graph, embedding_dim=4, loss="sampled_softmax", similarity="dot")
    assert not dot.cosine
    torch.manual_seed(0)
    same = cls.from_graph(graph, embedding_dim=4)
    for got, expected in zip(dot(), same(), strict=True):
        torch.testing.assert_close(got, expected)
    assert not torch.allclose(dot()[1].norm(dim=1), torch.ones(NUM_ITEMS))


def test_bad_objective_settings_are_refused():
    with pytest.raises(ValueError, match="loss must be one of 'bpr', 'sampled_softmax'"):
        MF(3, 3, loss="warp")
    with pytest.raises(ValueError, match="num_negatives"):
        MF(3, 3, loss="sampled_softmax", num_negatives=0)
    with pytest.raises(ValueError, match="similarity must be one of 'cosine', 'dot'"):
        MF(3, 3, loss="sampled_softmax", similarity="euclid")
    with pytest.raises(ValueError, match="temperature"):
        LightGCN(3, 3, torch.tensor([[0], [1]]), loss="sampled_softmax", temperature=0.0)


def test_lightgcn_softmax_fold_in_is_the_normalised_propagation():
    graph = community_graph()
    torch.manual_seed(0)
    model = LightGCN.from_graph(graph, embedding_dim=4, num_layers=2, loss="sampled_softmax")
    history = Interactions(torch.tensor([[0, 0, 0], [1, 3, 9]]), 1, NUM_ITEMS)
    with torch.no_grad():
        scores = model.score_histories(history)[0]
        layers = list(model.layers())
        _, item_emb = model()  # already unit-norm
    degree = Interactions.from_graph(graph).item_degree().float()
    items = torch.tensor([1, 3, 9])
    coef = (3 * (degree[items] + 1)).rsqrt()
    user, total = torch.zeros(4), torch.zeros(4)
    for layer in layers[:-1]:
        user = (coef.unsqueeze(1) * layer[NUM_USERS + items]).sum(0)
        total = total + user
    expected = (total / total.norm()) @ item_emb.t()
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-6)


def test_softmax_training_learns_the_communities_in_few_epochs():
    graph = community_graph(num_users=200, num_items=120, per_user=12, communities=4)
    train = Interactions.from_graph(graph)
    for cls in (MF, LightGCN):
        torch.manual_seed(0)
        model = cls.from_graph(graph, embedding_dim=16, loss="sampled_softmax", num_negatives=64,
                               temperature=0.2, reg_weight=0.0)
        result = Trainer(model, TrainConfig(epochs=15, batch_size=256, lr=1e-2, device="cpu",
                                            progress=False, seed=0)).fit(train)
        assert result.history[-1]["loss"] < result.history[0]["loss"]
        model.eval()
        top, _ = model.recommend(torch.arange(train.num_users), k=10, exclude=train)
        community = torch.arange(train.num_items) % 4
        same = (community[top] == (torch.arange(train.num_users) % 4).unsqueeze(1))
        assert same.float().mean() > 0.9, cls.__name__
