import pytest
import torch

from graphrec.eval import Evaluator
from graphrec.graph.interactions import Interactions
from graphrec.models import MF, Popularity
from graphrec.train import TrainConfig, Trainer


def _planted(seed=0, num_users=80, num_items=40):
    """Two communities: users 0..39 like items 0..19, users 40..79 items 20..39; item 0
    and item 20 are popular everywhere. Returns train and validation interactions."""
    generator = torch.Generator().manual_seed(seed)
    group = (torch.arange(num_users) >= num_users // 2).long()
    preference = torch.zeros(num_users, num_items)
    for g in (0, 1):
        preference[group == g, g * 20:(g + 1) * 20] = 0.3
    mask = torch.rand(num_users, num_items, generator=generator) < preference
    held = mask & (torch.rand(num_users, num_items, generator=generator) < 0.3)
    train = Interactions((mask & ~held).nonzero().t(), num_users, num_items)
    valid = Interactions(held.nonzero().t(), num_users, num_items)
    return train, valid


def _config(**kwargs):
    defaults = dict(epochs=30, batch_size=64, lr=0.05, eval_every=1, patience=5,
                    metric="recall@10", device="cpu", progress=False, seed=0)
    defaults.update(kwargs)
    return TrainConfig(**defaults)


def test_mf_learns_communities_and_beats_popularity():
    train, valid = _planted()
    trainer = Trainer(MF(80, 40, embedding_dim=8, reg_weight=1e-4), _config())
    result = trainer.fit(train, valid)
    mf = trainer.evaluate(valid, exclude=train)["recall@10"]
    popularity = Trainer(Popularity(80, 40), _config())
    popularity.fit(train)
    pop = popularity.evaluate(valid, exclude=train)["recall@10"]
    assert mf > pop + 0.1
    assert result.history[0]["loss"] > result.history[-1]["loss"]


def test_best_weights_are_restored_and_training_is_seeded():
    train, valid = _planted()
    trainer = Trainer(MF(80, 40, embedding_dim=8), _config(epochs=12, patience=2))
    result = trainer.fit(train, valid)
    again = Evaluator(ks=(10, 20)).evaluate(trainer.model, valid, exclude=train)
    assert again["recall@10"] == pytest.approx(result.best_metric)
    best = max(r["valid"]["recall@10"] for r in result.history)
    assert result.best_metric == pytest.approx(best)
    twin = Trainer(MF(80, 40, embedding_dim=8), _config(epochs=12, patience=2)).fit(train, valid)
    assert [r["loss"] for r in twin.history] == [r["loss"] for r in result.history]


def test_checkpoint_round_trip(tmp_path):
    train, valid = _planted()
    path = tmp_path / "best.pt"
    trainer = Trainer(MF(80, 40, embedding_dim=8), _config(epochs=3, checkpoint=str(path)))
    trainer.fit(train, valid)
    restored = Trainer(MF(80, 40, embedding_dim=8), _config())
    restored.load_checkpoint(path)
    assert restored.epoch >= 1
    saved = torch.load(path, weights_only=True)["model"]
    for name, value in restored.model.state_dict().items():
        assert torch.equal(value, saved[name])


def test_model_without_parameters_is_only_fitted():
    train, _ = _planted()
    result = Trainer(Popularity(80, 40), _config()).fit(train)
    assert result.history == [] and result.epochs_run == 0


def test_learning_rate_decays_after_each_plateau_of_the_selection_metric():
    train, valid = _planted()
    config = _config(epochs=15, patience=0, lr=0.2, lr_decay=0.5, lr_patience=1)
    result = Trainer(MF(80, 40, embedding_dim=8), config).fit(train, valid)
    lrs = [r["lr"] for r in result.history]
    # replay the rule: after lr_patience + 1 evaluations without a strictly better value
    # the rate halves (then the count restarts)
    expected, best, bad, lr = [], -1.0, 0, 0.2
    for record in result.history:
        expected.append(lr)
        value = record["valid"]["recall@10"]
        if value > best:
            best, bad = value, 0
        else:
            bad += 1
            if bad > 1:
                lr, bad = lr * 0.5, 0
    assert lrs == pytest.approx(expected)
    assert min(lrs) < 0.2  # the planted data plateaus within 15 epochs at this rate
    with pytest.raises(ValueError, match="lr_decay"):
        Trainer(MF(80, 40, embedding_dim=8), _config(lr_decay=0.0))


def _resume_equals_uninterrupted(make_model, train, valid, tmp_path, stop_after, **config):
    """Runs ``epochs`` in one go, and again stopped after ``stop_after`` epochs then resumed
    from its checkpoint in a fresh Trainer; returns both results and models."""
    full = Trainer(make_model(), _config(**config))
    full_result = full.fit(train, valid)
    path = tmp_path / "state.pt"
    first = Trainer(make_model(), _config(**{**config, "epochs": stop_after,
                                             "checkpoint": str(path)}))
    first.fit(train, valid)
    torch.manual_seed(12345)  # the resumed run must not depend on the state it starts in
    resumed = Trainer(make_model(), _config(**{**config, "checkpoint": str(path)}))
    resumed_result = resumed.fit(train, valid, resume=path)
    return full, full_result, resumed, resumed_result


def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    train, valid = _planted()
    full, full_result, resumed, resumed_result = _resume_equals_uninterrupted(
        lambda: (torch.manual_seed(0), MF(80, 40, embedding_dim=8))[1], train, valid, tmp_path,
        stop_after=4,
        epochs=9, patience=3, lr_decay=0.5, lr_patience=1)
    assert [r["loss"] for r in resumed_result.history] == [r["loss"] for r in full_result.history]
    assert resumed_result.best_epoch == full_result.best_epoch
    for name, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name


def test_resume_restores_the_batch_stream_of_a_sequence_model(tmp_path):
    from graphrec.graph.build import build_interaction_graph
    from graphrec.models import SASRec

    generator = torch.Generator().manual_seed(0)
    users = torch.arange(30).repeat_interleave(8)
    items = torch.randint(0, 25, (240,), generator=generator)
    graph = build_interaction_graph(users.numpy(), items.numpy(),
                                    times=torch.arange(240).numpy())
    train = Interactions.from_graph(graph)

    def make():
        torch.manual_seed(0)
        return SASRec.from_graph(graph, embedding_dim=8, maxlen=6, dropout=0.2)

    full, full_result, resumed, resumed_result = _resume_equals_uninterrupted(
        make, train, None, tmp_path, stop_after=2, epochs=5, batch_size=8)
    assert [r["loss"] for r in resumed_result.history] == [r["loss"] for r in full_result.history]
    for name, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name


def test_checkpoint_is_written_without_validation(tmp_path):
    train, _ = _planted()
    path = tmp_path / "state.pt"
    Trainer(MF(80, 40, embedding_dim=8), _config(epochs=2, checkpoint=str(path))).fit(train)
    assert torch.load(path, weights_only=True)["epoch"] == 2


def test_resume_from_a_missing_checkpoint_is_a_clear_error(tmp_path):
    train, _ = _planted()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Trainer(MF(80, 40, embedding_dim=8), _config(epochs=2)).fit(
            train, resume=tmp_path / "nope.pt")


def test_monitor_records_curves_and_selects_nothing():
    train, valid = _planted()
    plain = Trainer(MF(80, 40, embedding_dim=8), _config(epochs=6, patience=0, eval_every=2))
    plain_result = plain.fit(train, valid)
    calls = []

    def monitor(model):
        assert not model.training  # scored as the evaluator scores
        calls.append(model.user_embedding.weight.detach().clone())
        return Evaluator(ks=(10,)).evaluate(model, valid, exclude=train).metrics

    watched = Trainer(MF(80, 40, embedding_dim=8), _config(epochs=6, patience=0, eval_every=2))
    result = watched.fit(train, valid, monitor=monitor)
    assert len(calls) == 3  # epochs 2, 4, 6
    assert [("monitor" in r) for r in result.history] == [False, True] * 3
    for record in result.history[1::2]:
        assert record["monitor"]["recall@10"] == pytest.approx(record["valid"]["recall@10"])
    # the same training (losses, best epoch, weights) as without a monitor
    assert [r["loss"] for r in result.history] == [r["loss"] for r in plain_result.history]
    assert result.best_epoch == plain_result.best_epoch
    torch.testing.assert_close(watched.model.user_embedding.weight,
                               plain.model.user_embedding.weight)
    # without validation the monitor still runs (a fixed schedule's learning curve)
    blind = Trainer(MF(80, 40, embedding_dim=8), _config(epochs=4, patience=0, eval_every=2))
    assert ["monitor" in r for r in blind.fit(train, monitor=monitor).history] == [
        False, True, False, True]


def test_cosine_schedule_anneals_over_the_epochs_and_resumes(tmp_path):
    train, valid = _planted()
    config = _config(epochs=6, patience=0, lr=0.04, min_lr=0.01, lr_schedule="cosine",
                     checkpoint=str(tmp_path / "c.pt"))
    result = Trainer(MF(80, 40, embedding_dim=8), config).fit(train, valid)
    import math
    expected = [0.01 + 0.03 * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)]
    assert [r["lr"] for r in result.history] == pytest.approx(expected)
    # an interrupted run resumes on the same schedule
    short = _config(epochs=6, patience=0, lr=0.04, min_lr=0.01, lr_schedule="cosine",
                    checkpoint=str(tmp_path / "d.pt"), max_seconds=1e-9)
    Trainer(MF(80, 40, embedding_dim=8), short).fit(train, valid)
    resumed = Trainer(MF(80, 40, embedding_dim=8), config).fit(
        train, valid, resume=tmp_path / "d.pt")
    assert [r["lr"] for r in resumed.history] == pytest.approx(expected)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in result.history]


def test_cosine_schedule_settings_are_checked():
    with pytest.raises(ValueError, match="lr_schedule must be 'constant' or 'cosine'"):
        _config(lr_schedule="step")
    with pytest.raises(ValueError, match="cannot also decay on plateaus"):
        _config(lr_schedule="cosine", lr_decay=0.5)
