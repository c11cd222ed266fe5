"""SASRec / TiSASRec through the one trainer and evaluator: padding, causality, losses,
history scoring, sampled evaluation."""
from __future__ import annotations

import pytest
import torch

from graphrec.eval.evaluator import Evaluator
from graphrec.graph import build_interaction_graph, leave_one_out
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING
from graphrec.models import Popularity, SASRec, TiSASRec
from graphrec.models.sequential import attention_mask
from graphrec.sampling.sequence_batches import SequenceBatches
from graphrec.train.trainer import TrainConfig, Trainer

MODELS = {
    "sasrec": lambda split, **kw: SASRec.from_graph(split.train, **kw),
    "sasrec_paper_layout": lambda split, **kw: SASRec.from_graph(split.train, norm_first=False,
                                                                 **kw),
    "sasrec_mhc": lambda split, **kw: SASRec.from_graph(split.train, mhc_expansion=4, **kw),
    "tisasrec": lambda split, **kw: TiSASRec.from_graph(split.train, time_span=8, **kw),
    "tisasrec_mhc": lambda split, **kw: TiSASRec.from_graph(split.train, time_span=8,
                                                            mhc_expansion=2, **kw),
    "sasrec_mhc_8_blocks": lambda split, **kw: SASRec.from_graph(split.train, num_blocks=8,
                                                                 mhc_expansion=4, **kw),
}


def _cyclic(num_users=120, num_items=30, length=10, seed=0):
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
    split = leave_one_out(graph)
    return split, [Interactions.from_graph(p) for p in (split.train, split.valid, split.test)]


def test_batches_are_next_item_windows_and_padding_is_aligned():
    split, (train, _, _) = _cyclic(num_users=4, num_items=30, length=6)
    batches = SequenceBatches(train, maxlen=6, batch_size=4, negatives="user", seed=0)
    seen = []
    for batch in batches:
        valid = batch.items != PADDING
        assert torch.equal(valid, batch.targets != PADDING)
        assert torch.equal(valid, batch.negatives != PADDING)
        # cyclic data: the target is the next item
        assert torch.equal(batch.targets[valid], (batch.items[valid] + 1) % 30)
        assert not train.contains(batch.users.unsqueeze(1).expand_as(valid)[valid],
                                  batch.negatives[valid]).any()
        assert batch.positions.tolist() == list(range(6 - batch.items.size(1), 6))
        seen.append(batch.users)
    # 4 training items per user -> 3 transitions, the latest at the last column
    assert sorted(torch.cat(seen).tolist()) == [0, 1, 2, 3]
    assert (batch.items != PADDING).sum(1).tolist() == [3] * len(batch)


def test_bucketed_epoch_covers_every_user_once():
    _, (train, _, _) = _cyclic(num_users=100)
    batches = SequenceBatches(train, maxlen=5, batch_size=7, bucket_batches=3, seed=1)
    rows = torch.cat(batches.epoch_order())
    assert sorted(rows.tolist()) == list(range(100))


def test_attention_mask_is_causal_and_hides_padding():
    items = torch.tensor([[PADDING, PADDING, 3, 4], [1, 2, 3, 4]])
    allowed = attention_mask(items)
    assert allowed[0].tolist() == [[True, False, False, False], [False, True, False, False],
                                   [False, False, True, False], [False, False, True, True]]
    assert torch.equal(allowed[1], torch.ones(4, 4, dtype=torch.bool).tril())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padding_and_future_items_do_not_change_a_position(name):
    split, _ = _cyclic()
    torch.manual_seed(0)
    model = MODELS[name](split, embedding_dim=8, maxlen=6, dropout=0.0).eval()
    items = torch.tensor([[PADDING, PADDING, 4, 5, 6, 7]])
    times = torch.tensor([[0, 0, 1, 2, 4, 5]])
    positions = torch.arange(6)
    out = model.encode(items, positions, times)
    # trimming the padding (positions kept) gives the same states
    trimmed = model.encode(items[:, 2:], positions[2:], times[:, 2:])
    torch.testing.assert_close(out[:, 2:], trimmed, atol=1e-5, rtol=1e-5)
    # a different future item leaves earlier positions unchanged (causality)
    changed = items.clone()
    changed[0, -1] = 9
    out2 = model.encode(changed, positions, times)
    torch.testing.assert_close(out[:, :-1], out2[:, :-1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out[:, -1], out2[:, -1])


@pytest.mark.parametrize("name", ["sasrec", "tisasrec"])
def test_input_scale_enters_the_input_only(name):
    """scale_embeddings multiplies the input item rows by sqrt(d); scores use the raw table.
    Same hidden states as an unscaled twin whose input table is pre-multiplied."""
    split, _ = _cyclic()
    torch.manual_seed(0)
    scaled = MODELS[name](split, embedding_dim=16, maxlen=6, dropout=0.0).eval()
    twin = MODELS[name](split, embedding_dim=16, maxlen=6, dropout=0.0,
                        scale_embeddings=False).eval()
    twin.load_state_dict(scaled.state_dict())
    with torch.no_grad():
        twin.item_embedding.weight.mul_(4.0)  # sqrt(16)
    items = torch.tensor([[PADDING, 3, 4, 5, 6, 7]])
    times = torch.tensor([[0, 1, 2, 4, 5, 7]])
    positions = torch.arange(6)
    torch.testing.assert_close(scaled.encode(items, positions, times),
                               twin.encode(items, positions, times), atol=1e-5, rtol=1e-5)
    assert scaled.input_scale == 4.0 and twin.input_scale == 1.0


def test_default_init_is_xavier_normal_per_table():
    """init_std=None: each table ~ N(0, 2 / (rows + d)), as the authors' code initialises."""
    torch.manual_seed(0)
    model = SASRec(10, 4000, embedding_dim=64, maxlen=200)
    for table in (model.item_embedding.weight, model.position_embedding.weight):
        expected = (2.0 / (table.size(0) + table.size(1))) ** 0.5
        assert abs(float(table.detach().std()) / expected - 1.0) < 0.05
    fixed = SASRec(10, 4000, embedding_dim=64, maxlen=200, init_std=0.3)
    assert abs(float(fixed.position_embedding.weight.detach().std()) / 0.3 - 1.0) < 0.05


@pytest.mark.parametrize("loss", ["ce", "bce", "sampled_softmax"])
def test_loss_ignores_padding(loss):
    split, (train, _, _) = _cyclic()
    torch.manual_seed(0)
    model = SASRec.from_graph(split.train, embedding_dim=8, maxlen=12, dropout=0.0, loss=loss,
                              num_negatives=5)
    batch = next(iter(model.train_batches(train, 16, "cpu", 0)))
    torch.manual_seed(1)
    reference = model.loss(batch)
    # pad the batch with three more all-padding columns: same loss
    pad = torch.full((len(batch), 3), PADDING)
    wider = type(batch)(batch.users, torch.cat([pad, batch.items], 1),
                        torch.cat([pad, batch.targets], 1),
                        torch.arange(batch.positions[0] - 3, batch.positions[-1] + 1),
                        torch.cat([pad.clamp(min=0), batch.times], 1),
                        None if batch.negatives is None or batch.negatives.dim() == 1
                        else torch.cat([pad, batch.negatives], 1), batch.log_q)
    if batch.negatives is not None and batch.negatives.dim() == 1:
        wider.negatives = batch.negatives
    torch.testing.assert_close(model.loss(wider), reference)


@pytest.mark.parametrize("name,loss", [("sasrec", "ce"), ("sasrec", "bce"),
                                       ("sasrec", "sampled_softmax"), ("sasrec_mhc", "ce"),
                                       ("tisasrec", "ce"), ("tisasrec_mhc", "ce")])
def test_trains_through_the_one_trainer_and_beats_popularity(name, loss):
    split, (train, valid, test) = _cyclic()
    torch.manual_seed(0)
    model = MODELS[name](split, embedding_dim=16, maxlen=8, dropout=0.1, loss=loss,
                         num_negatives=10)
    evaluator = Evaluator(ks=(5,), metrics=("hit", "ndcg"))
    trainer = Trainer(model, TrainConfig(epochs=8, batch_size=40, lr=1e-2, metric="ndcg@5",
                                         ks=(5,), device="cpu", progress=False, patience=0),
                      evaluator=evaluator)
    result = trainer.fit(train, valid)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    got = trainer.evaluate(test, exclude=[train, valid]).metrics["hit@5"]
    popularity = Popularity.from_graph(split.train)
    popularity.fit(train)
    base = evaluator.evaluate(popularity, test, exclude=[train, valid]).metrics["hit@5"]
    assert got > max(0.8, base + 0.5)


def test_test_input_ends_with_the_validation_item_and_history_is_masked():
    split, (train, valid, test) = _cyclic()
    model = SASRec.from_graph(split.train, embedding_dim=8, maxlen=5, dropout=0.0).eval()
    seen = {}

    def spy(items, positions, times):
        seen["items"] = items
        return torch.zeros(items.size(0), items.size(1), 8)

    model.encode = spy
    users = torch.tensor([0, 1])
    model.scorer_from([train, valid])(users)
    assert torch.equal(seen["items"][:, -1], valid.indices[:2])
    model.scorer_from(train)(users)
    assert torch.equal(seen["items"][:, -1], (valid.indices[:2] - 1) % 30)
    with pytest.raises(ValueError, match="history"):
        model.scorer()
    user = torch.tensor([0])
    items, _ = model.recommend(user, k=30 - 9, exclude=[train, valid])
    history = torch.cat([train.rows(user)[1], valid.rows(user)[1]])
    assert history.numel() == 9 and not torch.isin(items, history).any()


def test_sampled_protocol_is_labelled_and_easier_than_full_ranking():
    split, (train, valid, test) = _cyclic(num_users=200, num_items=300)
    popularity = Popularity.from_graph(split.train)
    popularity.fit(train)
    full = Evaluator(ks=(10,), metrics=("hit", "ndcg"))
    sampled = Evaluator(ks=(10,), metrics=("hit", "ndcg"), sampled_negatives=100)
    a = full.evaluate(popularity, test, exclude=[train, valid]).metrics
    b = sampled.evaluate(popularity, test, exclude=[train, valid]).metrics
    assert set(b) == {"hit@10", "ndcg@10", "sampled_hit@10", "sampled_ndcg@10"}
    assert a["hit@10"] == b["hit@10"]
    assert b["sampled_hit@10"] >= b["hit@10"]
    assert b == sampled.evaluate(popularity, test, exclude=[train, valid]).metrics  # seeded


def test_sampled_candidates_avoid_history_and_include_targets():
    from graphrec.eval.evaluator import known_interactions, sampled_candidates
    from graphrec.sampling.negative import NegativeSampler

    _, (train, valid, test) = _cyclic(num_users=20, num_items=40)
    users = torch.arange(20)
    negatives = NegativeSampler(known_interactions(test, [train, valid])).sample(users, 100)
    scores = torch.randn(20, 40)
    out = sampled_candidates(scores, users, test, negatives)
    finite = torch.isfinite(out)
    row, item = test.rows(users)
    assert finite[row, item].all()
    row, item = train.rows(users)
    assert not finite[row, item].any()
    torch.testing.assert_close(out[finite], scores[finite])


def test_amp_is_cuda_only_and_a_no_op_on_cpu():
    split, (train, valid, _) = _cyclic(num_users=40)
    losses = []
    for amp in (False, True):
        torch.manual_seed(0)
        model = SASRec.from_graph(split.train, embedding_dim=8, maxlen=6)
        trainer = Trainer(model, TrainConfig(epochs=2, batch_size=16, device="cpu", amp=amp,
                                             progress=False, patience=0))
        assert trainer.use_amp is False
        losses.append([record["loss"] for record in trainer.fit(train).history])
    assert losses[0] == losses[1]


def test_mhc_expansion_below_one_is_a_clear_error():
    split, _ = _cyclic(num_users=10)
    with pytest.raises(ValueError, match="mhc_expansion"):
        SASRec.from_graph(split.train, embedding_dim=8, maxlen=6, mhc_expansion=0)


@pytest.mark.parametrize("implicit", [False, True])
def test_sinkhorn_implicit_grad_reaches_every_mhc_residual(implicit):
    from graphrec.nn.seq.mhc import MHCResidual

    split, _ = _cyclic(num_users=10)
    for model_class in (SASRec, TiSASRec):
        model = model_class.from_graph(split.train, embedding_dim=8, maxlen=6, num_blocks=2,
                                       mhc_expansion=2, sinkhorn_implicit_grad=implicit)
        residuals = [m for m in model.modules() if isinstance(m, MHCResidual)]
        assert len(residuals) == 4  # attention and feed-forward residual of each block
        assert all(m.implicit_grad is implicit for m in residuals)
