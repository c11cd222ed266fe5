"""TrainConfig checks every setting when it is made: a bad one is a ValueError naming it,
never a ZeroDivisionError, a NaN loss or an untrained model reported as a result."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from graphrec.train import TrainConfig


@pytest.mark.parametrize(("settings", "message"), [
    ({"epochs": 0}, r"epochs must be an integer >= 1 \(got 0\)"),
    ({"epochs": -3}, r"epochs must be an integer >= 1 \(got -3\)"),
    ({"epochs": 2.5}, r"epochs must be an integer >= 1 \(got 2.5\)"),
    ({"batch_size": 0}, r"batch_size must be an integer >= 1 \(got 0\)"),
    ({"eval_every": 0}, r"eval_every must be an integer >= 1 \(got 0\)"),
    ({"patience": -1}, r"patience must be an integer >= 0"),
    ({"lr": -1.0}, r"lr must be a finite number > 0 \(got -1.0\)"),
    ({"lr": 0.0}, r"lr must be a finite number > 0"),
    ({"lr": float("nan")}, r"lr must be a finite number > 0 \(got nan\)"),
    ({"weight_decay": -0.1}, r"weight_decay must be a finite number >= 0"),
    ({"lr_decay": 0.0}, r"lr_decay must be a finite number in \(0, 1\]"),
    ({"lr_decay": 1.5}, r"lr_decay must be a finite number in \(0, 1\]"),
    ({"min_lr": -1.0}, r"min_lr must be a finite number >= 0"),
    ({"max_seconds": 0}, r"max_seconds must be a finite number > 0 or None"),
    ({"ks": ()}, r"ks must hold at least one cut-off"),
    ({"ks": (10, 0)}, r"ks must be an integer >= 1 \(got 0\)"),
    ({"ks": 10}, r"ks must be a sequence of positive integers"),
    ({"metric": "ndgc@20"}, r"metric 'ndgc@20': unknown name 'ndgc'; expected name@k"),
    ({"metric": "ndcg"}, r"metric 'ndcg': expected name@k"),
    ({"metric": "ndcg@5"}, r"metric 'ndcg@5': cut-off '5' is not in ks=\[10, 20\]"),
    ({"device": "foo"}, r"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' "
                        r"\(got 'foo'\)"),
    ({"device": "meta"}, r"device must be 'auto'"),
])
def test_bad_settings_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_cuda_requested_without_a_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        with pytest.raises(ValueError, match=f"has {count} CUDA device"):
            TrainConfig(device=f"cuda:{count}")
    else:
        for device in ("cuda", "cuda:0", torch.device("cuda")):
            with pytest.raises(ValueError, match="CUDA is not available on this machine"):
                TrainConfig(device=device)


def test_good_settings_are_normalised_and_kept():
    config = TrainConfig(ks=[5, 10], metric="sampled_hit@5", device="cpu", epochs=3,
                         max_seconds=None)
    assert config.ks == (5, 10) and config.metric == "sampled_hit@5"
    assert TrainConfig(device=torch.device("cpu")).device == torch.device("cpu")
    # replace() re-checks
    with pytest.raises(ValueError, match="epochs"):
        dataclasses.replace(config, epochs=0)
