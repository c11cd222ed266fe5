import pytest
import torch

from graphrec.data.dataset import RecDataset
from graphrec.experiment import default_settings, make_split
from graphrec.graph import INTERACTS, build_interaction_graph, fixed_split


def _dataset(with_split: bool) -> RecDataset:
    users = [u for u in range(10) for _ in range(10)]
    items = [(u + i) % 20 for u in range(10) for i in range(10)]
    graph = build_interaction_graph(users, items, times=list(range(100)))
    split = None
    if with_split:
        edge_index = graph[INTERACTS].edge_index
        is_test = edge_index[1] % 5 == 0
        split = fixed_split(graph, (edge_index[0][~is_test], edge_index[1][~is_test]),
                            (edge_index[0][is_test], edge_index[1][is_test]))
    return RecDataset("toy", graph, split)


def test_auto_uses_the_fixed_split_with_a_validation_holdout_from_training():
    dataset = _dataset(with_split=True)
    split = make_split(dataset, "auto", seed=0, valid_ratio=0.2)
    fixed = dataset.split
    assert torch.equal(split.test[INTERACTS].edge_index, fixed.test[INTERACTS].edge_index)
    assert split.sizes()["train"] + split.sizes()["valid"] == fixed.sizes()["train"]
    assert split.sizes()["valid"] > 0


def test_auto_without_fixed_split_is_random_80_10_10_and_other_policies():
    dataset = _dataset(with_split=False)
    assert make_split(dataset, "auto", seed=0).sizes() == {"train": 80, "valid": 10, "test": 10}
    assert make_split(dataset, "temporal").sizes() == {"train": 80, "valid": 10, "test": 10}
    assert make_split(dataset, "loo").sizes() == {"train": 80, "valid": 10, "test": 10}
    with pytest.raises(ValueError, match="no fixed split"):
        make_split(dataset, "fixed")
    with pytest.raises(ValueError, match="split must be one of"):
        make_split(dataset, "kfold")


def test_default_settings_are_copies():
    model_kwargs, train_kwargs = default_settings("lightgcn")
    model_kwargs["num_layers"] = 99
    assert default_settings("lightgcn")[0]["num_layers"] == 3
    with pytest.raises(ValueError, match="unknown model"):
        default_settings("gcn")


def test_run_experiment_is_reproducible_for_a_seed():
    from graphrec.experiment import run_experiment
    from graphrec.train import TrainConfig

    dataset = _dataset(with_split=False)
    split = make_split(dataset, "random", seed=0)

    def run(seed):
        config = TrainConfig(epochs=3, batch_size=16, eval_every=1, device="cpu",
                             progress=False, seed=seed)
        return run_experiment(dataset, split, "lightgcn", {"embedding_dim": 8}, config)[1]

    first, second, other = run(0), run(0), run(1)
    assert [h["loss"] for h in first["history"]] == pytest.approx(
        [h["loss"] for h in second["history"]], rel=1e-6)
    assert [h["loss"] for h in first["history"]] != pytest.approx(
        [h["loss"] for h in other["history"]], rel=1e-6)
