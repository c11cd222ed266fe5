"""MIND and SDM through the one trainer and evaluator: history batches, scoring as the
maximum over interests, padding, sessions, side fields, learning."""
from __future__ import annotations

import pytest
import torch

from graphrec.eval.evaluator import Evaluator
from graphrec.graph import build_interaction_graph, leave_one_out
from graphrec.graph.build import ITEM
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING
from graphrec.models import Popularity, build_model
from graphrec.models.mind import MIND
from graphrec.models.sdm import SDM, short_term_lengths
from graphrec.sampling.history_batches import HistoryBatches
from graphrec.train.trainer import TrainConfig, Trainer


def _cyclic(num_users=150, num_items=30, length=10, seed=0, side=False):
    """Each user walks items start, start+1, ... (mod num_items); times grow by 1 or 2."""
    generator = torch.Generator().manual_seed(seed)
    start = torch.randint(0, num_items, (num_users,), generator=generator)
    step = torch.arange(length)
    users = torch.arange(num_users).repeat_interleave(length)
    items = (start.repeat_interleave(length) + step.repeat(num_users)) % num_items
    times = torch.cumsum(torch.randint(1, 3, (num_users, length), generator=generator), 1)
    graph = build_interaction_graph(users, items, times=times.view(-1), keep_order=True,
                                    user_ids=list(range(num_users)),
                                    item_ids=list(range(num_items)))
    if side:  # items in three groups, item 0 without a value, item 1 with two
        graph["group"].num_nodes = 3
        item = torch.cat([torch.arange(1, num_items), torch.tensor([1])])
        graph[ITEM, "in_group", "group"].edge_index = torch.stack([item, torch.cat(
            [torch.arange(1, num_items) % 3, torch.tensor([0])])])
    split = leave_one_out(graph)
    return split, [Interactions.from_graph(p) for p in (split.train, split.valid, split.test)]


def test_history_batches_are_every_transition_with_the_items_before_it():
    split, (train, _, _) = _cyclic(num_users=6, num_items=30, length=7)
    batches = HistoryBatches(train, maxlen=3, batch_size=4, num_negatives=5, seed=0)
    assert len(batches) == 6  # 6 users x (5 training items - 1) = 24 transitions, 4 a batch
    seen = []
    for batch in batches:
        valid = batch.items != PADDING
        # right-aligned: the latest item is the target's predecessor, then one before...
        assert torch.equal(batch.items[:, -1], (batch.targets - 1) % 30)
        for offset in range(1, batch.items.size(1)):
            column = batch.items[:, -1 - offset]
            here = valid[:, -1 - offset]
            assert torch.equal(column[here], (batch.targets[here] - 1 - offset) % 30)
        # padding is only on the left
        assert torch.equal(valid, valid.cummax(1).values)
        assert batch.items.size(1) <= 3 and valid[:, 0].any()
        assert batch.negatives.shape == (5,)
        torch.testing.assert_close(batch.log_q_negatives, torch.full((5,), (5 / 30)).log())
        seen += list(zip(batch.users.tolist(), batch.targets.tolist(), strict=True))
    rows = train.rows(torch.arange(6))
    assert len(seen) == len(set(seen)) == int(rows[0].numel()) - 6 == 24


def test_mind_scores_are_the_maximum_over_interests():
    split, (train, _, _) = _cyclic(num_users=20)
    torch.manual_seed(0)
    model = MIND.from_graph(split.train, embedding_dim=8, num_interests=4).eval()
    users = torch.arange(20)
    with torch.no_grad():
        vectors, mask = model.interests_from(train)(users)
        scores = model.scorer_from(train)(users)
    assert vectors.shape == (20, 4, 8)
    assert mask.sum(1).tolist() == [3] * 20  # 8 training items: floor(log2 8) = 3
    table = model.item_embedding.weight.detach()
    expected = torch.stack([(vectors[u, mask[u]] @ table.t()).amax(0) for u in range(20)])
    torch.testing.assert_close(scores, expected)
    # unused interests are copies of the first: the unmasked maximum is the same ranking
    torch.testing.assert_close((vectors @ table.t()).amax(1), scores)
    assert torch.equal(vectors[:, 3], vectors[:, 0])
    # K = 1: the one interest's inner products
    single = MIND.from_graph(split.train, embedding_dim=8, num_interests=1).eval()
    with torch.no_grad():
        one, _ = single.interests_from(train)(users)
        torch.testing.assert_close(single.scorer_from(train)(users), one[:, 0] @ single.
                                   item_embedding.weight.t())


@pytest.mark.parametrize("name", ["mind", "sdm"])
def test_padding_and_batch_composition_do_not_change_scores(name):
    split, (train, _, _) = _cyclic(num_users=30, length=12)
    torch.manual_seed(0)
    model = build_model(name, split.train, embedding_dim=8, maxlen=12).eval()
    window = model.histories(train)
    users = torch.arange(30)
    items, times = window(users)
    with torch.no_grad():
        base, _ = model.user_vectors(users, items, times)
        padded = torch.cat([torch.full((30, 3), PADDING), items], 1)
        wide, _ = model.user_vectors(users, padded, torch.cat(
            [torch.zeros(30, 3, dtype=times.dtype), times], 1))
        alone, _ = model.user_vectors(users[:1], items[:1, -4:], times[:1, -4:])
        short, _ = model.user_vectors(users[:1], items[:1], times[:1])
    torch.testing.assert_close(wide, base)
    if name == "mind":
        torch.testing.assert_close(short, base[:1])
    else:  # SDM's session reads the last 5 items, its long-term part the rest
        torch.testing.assert_close(short, base[:1])
        assert not torch.allclose(alone, base[:1])  # a shorter history changes it


def test_sdm_sessions_from_times_or_the_last_items():
    items = torch.tensor([[PADDING, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6],
                          [PADDING, PADDING, PADDING, PADDING, PADDING, 7]])
    times = torch.tensor([[0, 10, 20, 1000, 1010, 1020], [0, 1, 2, 3, 4, 5000],
                          [0, 0, 0, 0, 0, 9]])
    # the latest run with no gap >= 600: [3, 4, 5] / [6] / [7]
    assert short_term_lengths(items, times, 10, 600).tolist() == [3, 1, 1]
    assert short_term_lengths(items, times, 2, 600).tolist() == [2, 1, 1]
    # no times: the last N items
    assert short_term_lengths(items, times, 4, None).tolist() == [4, 4, 1]
    empty = torch.full((2, 3), PADDING)
    assert short_term_lengths(empty, torch.zeros(2, 3, dtype=torch.long), 4, 600).tolist() \
        == [0, 0]


def test_sdm_reads_side_fields_from_the_graph():
    split, (train, valid, _) = _cyclic(num_users=30, side=True)
    torch.manual_seed(0)
    model = SDM.from_graph(split.train, embedding_dim=8, session_gap=3)
    assert model.field_names == ["group"]
    table = model.side_values_0
    assert table.shape == (30, 2)
    assert table[0].tolist() == [-1, -1] and table[1].tolist() == [0, 1]
    assert table[5].tolist() == [2, -1]
    embedded = model.side_embeddings(torch.tensor([0, 1, 5, PADDING]))[0]
    weight = model.side[0].weight
    torch.testing.assert_close(embedded[1], (weight[0] + weight[1]) / 2)
    torch.testing.assert_close(embedded[2], weight[2])
    assert torch.all(embedded[0] == 0) and torch.all(embedded[3] == 0)
    # a new user (no user embedding) is scored from the history alone, finite
    with torch.no_grad():
        scores = model.eval().score_histories(train)
    assert torch.isfinite(scores).all()
    no_side = SDM.from_graph(_cyclic(num_users=30)[0].train, embedding_dim=8)
    assert no_side.field_names == [] and no_side.long_projection.in_features == 8


@pytest.mark.parametrize("name, settings", [
    ("mind", {"num_interests": 4}),
    ("mind", {"num_interests": 2, "logq": True, "pow_p": float("inf")}),
    ("mind", {"num_negatives": -1, "hidden_dim": 0}),
    ("sdm", {"session_gap": 3}),
    ("sdm", {"logq": True, "num_negatives": 0}),
])
def test_models_learn_the_next_item_through_the_trainer(name, settings):
    split, (train, valid, test) = _cyclic()
    torch.manual_seed(0)
    model = build_model(name, split.train, embedding_dim=16, maxlen=8, **settings)
    config = TrainConfig(epochs=12, batch_size=128, lr=1e-2, device="cpu", progress=False,
                         seed=0, eval_every=12, ks=(5,), metric="ndcg@5")
    Trainer(model, config).fit(train, valid)
    evaluator = Evaluator(ks=(5,))
    metrics = evaluator.evaluate(model.eval(), test, exclude=[train, valid]).metrics
    popular = Popularity.from_graph(split.train)
    popular.fit(train)
    baseline = evaluator.evaluate(popular, test, exclude=[train, valid]).metrics
    assert metrics["hit@5"] > max(0.5, 3 * baseline["hit@5"]), metrics


def test_bad_settings_are_named():
    split, _ = _cyclic(num_users=10)
    with pytest.raises(ValueError, match="pow_p"):
        MIND.from_graph(split.train, pow_p=1.5)
    with pytest.raises(ValueError, match="num_interests"):
        MIND.from_graph(split.train, num_interests=0)
    with pytest.raises(ValueError, match="heads must divide embedding_dim"):
        SDM.from_graph(split.train, embedding_dim=10, heads=3)
    with pytest.raises(ValueError, match="session_gap"):
        SDM.from_graph(split.train, session_gap=0)
    with pytest.raises(ValueError, match="history"):
        MIND.from_graph(split.train).scorer_from(None)
    with pytest.raises(ValueError, match="maxlen"):
        HistoryBatches(Interactions.from_graph(split.train), maxlen=0)


@pytest.mark.parametrize("name", ["mind", "sdm"])
def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(name, tmp_path):
    split, (train, _, _) = _cyclic(num_users=40)

    def make():
        torch.manual_seed(0)
        return build_model(name, split.train, embedding_dim=8, maxlen=6, num_negatives=7)

    def config(**changes):
        return TrainConfig(**{"epochs": 4, "batch_size": 32, "lr": 1e-2, "device": "cpu",
                              "progress": False, "seed": 0, **changes})

    full = Trainer(make(), config())
    full_result = full.fit(train)
    path = tmp_path / "state.pt"
    Trainer(make(), config(epochs=2, checkpoint=str(path))).fit(train)
    torch.manual_seed(12345)  # the resumed run must not depend on the state it starts in
    resumed = Trainer(make(), config(checkpoint=str(path)))
    resumed_result = resumed.fit(train, resume=path)
    assert [r["loss"] for r in resumed_result.history] == [r["loss"] for r in
                                                          full_result.history]
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
