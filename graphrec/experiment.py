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
from graphrec.models import build_model, hyperparameters, train_defaults
from graphrec.models.base import Recommender
from graphrec.presets import preset
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


def default_settings(model_name: str, dataset: str | None = None
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_kwargs, train_config_kwargs)`` of a model: its declared hyperparameters and
    training defaults (:mod:`graphrec.models.registry`), with the preset of
    ``(model_name, dataset)`` over them when ``dataset`` names one (:mod:`graphrec.presets`).
    Copies: change them freely."""
    model_kwargs = hyperparameters(model_name)
    train_kwargs = train_defaults(model_name)
    if dataset is not None:
        chosen = preset(model_name, dataset)
        model_kwargs.update(chosen["hyperparameters"])
        train_kwargs.update(chosen["train"])
    return model_kwargs, train_kwargs
