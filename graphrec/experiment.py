"""One experiment = dataset + split + model + trainer + test evaluation, as a JSON-ready dict.

Shared by the CLI and the examples so both report the same way.
"""
from __future__ import annotations

import time
from typing import Any

from graphrec.data.dataset import RecDataset
from graphrec.eval.evaluator import EvalResult, Evaluator
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import (
    Split,
    holdout_validation,
    leave_one_out,
    random_split,
    temporal_split,
)
from graphrec.models import build_model
from graphrec.models.base import Recommender
from graphrec.train.trainer import TrainConfig, Trainer, TrainResult, seed_everything

SPLITS = ("auto", "fixed", "random", "temporal", "loo")


def make_split(
    dataset: RecDataset, split: str = "auto", seed: int = 0, valid_ratio: float = 0.1
) -> Split:
    """The split an experiment uses.

    ``"auto"`` takes the source's fixed split when it has one, else the per-user random
    80/10/10 split. A fixed split without validation gets ``valid_ratio`` of each user's
    training interactions held out for early stopping, so model selection never sees test.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} (got {split!r})")
    if split == "auto":
        split = "fixed" if dataset.split is not None else "random"
    if split == "fixed":
        if dataset.split is None:
            raise ValueError(f"dataset {dataset.name!r} has no fixed split")
        chosen = dataset.split
        if chosen.valid is None and valid_ratio > 0:
            chosen = holdout_validation(chosen, valid_ratio, seed=seed)
        return chosen
    if split == "random":
        return random_split(dataset.graph, (1.0 - 2 * valid_ratio, valid_ratio, valid_ratio),
                            seed=seed)
    if split == "temporal":
        return temporal_split(dataset.graph, (1.0 - 2 * valid_ratio, valid_ratio, valid_ratio))
    return leave_one_out(dataset.graph)


def run_experiment(
    dataset: RecDataset,
    split: Split,
    model_name: str,
    model_kwargs: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    split_name: str = "",
    cold_max_train: int = 5,
    evaluator: Evaluator | None = None,
    model: Recommender | None = None,
) -> tuple[Recommender, dict[str, Any]]:
    """Trains ``model_name`` on ``split.train``, early-stops on ``split.valid``, tests on
    ``split.test`` (training and validation items masked).

    Returns:
        ``(model, results)``; ``results`` has ``config``, ``dataset``, ``history``,
        ``best_epoch``, ``epochs``, ``train_seconds``, ``test`` (``"recall@20"``, ...) and
        ``test_cold``: the same metrics over cold users, those with at most
        ``cold_max_train`` training interactions (``test_cold_users`` of them).
        ``evaluator`` (optional) replaces the trainer's default one (e.g. with the sampled
        protocol of sequence models). ``model`` (optional) is trained instead of building
        ``model_name`` (e.g. one composed around a shared item table); ``model_name`` then
        only labels the results.
    """
    config = config or TrainConfig()
    model_kwargs = dict(model_kwargs or {})
    seed_everything(config.seed)  # the initial weights are part of what --seed fixes
    if model is None:
        model = build_model(model_name, split.train, **model_kwargs)
    trainer = Trainer(model, config, evaluator=evaluator)
    train = Interactions.from_graph(split.train)
    valid = None if split.valid is None else Interactions.from_graph(split.valid)
    fit: TrainResult = trainer.fit(train, valid)
    start = time.perf_counter()
    exclude = [train] if valid is None else [train, valid]
    test_interactions = Interactions.from_graph(split.test)
    test: EvalResult = trainer.evaluate(test_interactions, exclude=exclude, train=train)
    cold_users = (train.user_degree() <= cold_max_train).nonzero().view(-1)
    cold: EvalResult = trainer.evaluate(test_interactions, exclude=exclude, users=cold_users)
    results = {
        "config": {"model": model_name, "dataset": dataset.name, "split": split_name,
                   "model_kwargs": model_kwargs, **config.to_dict()},
        "dataset": {**dataset.summary(), **{f"num_{k}": v for k, v in split.sizes().items()}},
        "history": fit.history,
        "best_epoch": fit.best_epoch,
        "epochs": fit.epochs_run,
        "train_seconds": fit.train_seconds,
        "test_seconds": time.perf_counter() - start,
        "test": test.metrics,
        "test_users": test.num_users,
        "test_users_without_train": test.num_users_without_train,
        "test_cold": cold.metrics,
        "test_cold_users": cold.num_users,
    }
    return trainer.model, results


# Defaults that reach the published LastFM numbers on 2 CPU cores in minutes (see
# docs/models.md); the CLI and the examples start from them.
# Halving the learning rate after 10 validation evaluations without a new best lets
# Adam's 5e-3 start settle into a better optimum (LightGCN on LastFM seed 0: validation
# NDCG@20 0.2096 -> 0.2125; docs/models.md).
_PLATEAU_DECAY: dict[str, Any] = {"lr_decay": 0.5, "lr_patience": 10}

_DEFAULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "popularity": ({}, {}),
    "mf": ({"embedding_dim": 64, "reg_weight": 1e-2},
           {"lr": 5e-3, "batch_size": 2048, "epochs": 300, "eval_every": 1, "patience": 50,
            **_PLATEAU_DECAY}),
    "lightgcn": ({"embedding_dim": 64, "num_layers": 3, "normalize": "sym",
                  "residual_alpha": 0.0, "reg_weight": 1e-4},
                 {"lr": 5e-3, "batch_size": 2048, "epochs": 300, "eval_every": 1,
                  "patience": 50, **_PLATEAU_DECAY}),
    # SocialLGN's paper settings (lr 1e-3, L2 1e-4): converges in about 450 epochs
    "sociallgn": ({"embedding_dim": 64, "num_layers": 3, "reg_weight": 1e-4},
                  {"lr": 1e-3, "batch_size": 2048, "epochs": 1000, "eval_every": 1,
                   "patience": 50}),
    # graphrec's tuned configuration (docs/lastfm_social.md): LightGCN tower from the
    # MF/SVD start, MF blended in at inference; converges in about 80 epochs
    "lite_eiisrs": ({"embedding_dim": 64},
                    {"lr": 5e-3, "batch_size": 2048, "epochs": 300, "eval_every": 1,
                     "patience": 20, **_PLATEAU_DECAY}),
    # SASRec / TiSASRec (docs/sequential.md): full softmax cross-entropy, pre-LN; dropout, init
    # and lr from short Beauty pilots (fastest early learning), not from converged runs
    "sasrec": ({"embedding_dim": 64, "num_blocks": 2, "heads": 1, "dropout": 0.3,
                "maxlen": 50, "loss": "ce"},
               {"lr": 3e-3, "batch_size": 128, "epochs": 200, "eval_every": 1,
                "patience": 5, "metric": "ndcg@10", "ks": (5, 10, 20)}),
    "tisasrec": ({"embedding_dim": 64, "num_blocks": 2, "heads": 1, "dropout": 0.3,
                  "maxlen": 50, "time_span": 256, "loss": "ce"},
                 {"lr": 3e-3, "batch_size": 128, "epochs": 200, "eval_every": 1,
                  "patience": 5, "metric": "ndcg@10", "ks": (5, 10, 20)}),
    # PinSAGE (docs/pinsage.md): an epoch is one of 5 positive folds, so 100 epochs see
    # every training interaction 20 times as a positive; patience 20 (4 passes) because
    # item-to-item validation on ~1k queries is noisy
    "pinsage": ({"hidden_channels": 64, "num_layers": 2},
                {"lr": 5e-3, "batch_size": 512, "epochs": 100, "eval_every": 1,
                 "patience": 20}),
    "pixie": ({}, {}),
}


def default_settings(model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_kwargs, train_config_kwargs)`` defaults of a model (copies)."""
    if model_name not in _DEFAULTS:
        raise ValueError(f"no defaults for model {model_name!r}; choose from {sorted(_DEFAULTS)}")
    model_kwargs, train_kwargs = _DEFAULTS[model_name]
    return dict(model_kwargs), dict(train_kwargs)
