"""One experiment = dataset + split + model + trainer + test evaluation, as a JSON-ready dict.

Shared by the CLI and the examples so both report the same way. A run is described by one
configuration (:func:`resolve_run`): the model and data set names, the loader's arguments
(``data``), the split (``split``), the model's hyperparameters (``hyperparameters``), the
:class:`~graphrec.train.TrainConfig` fields (``train``) and evaluation options (``eval``).
Missing values come from the model's declared defaults and the ``(model, dataset)`` preset;
the resolved configuration is what results JSON and checkpoints record, and
:func:`run` replays it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import platform
import time
from pathlib import Path
from typing import Any

import torch

from graphrec.data.dataset import RecDataset
from graphrec.eval.evaluator import EvalResult, Evaluator
from graphrec.eval.ratings import RatingEvaluator
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
from graphrec.models.registry import check_hyperparameters, model_class
from graphrec.presets import preset
from graphrec.train.trainer import TrainConfig, Trainer, TrainResult, seed_everything

SPLITS = ("auto", "fixed", "random", "temporal", "loo")


def make_split(
    dataset: RecDataset, split: str = "auto", seed: int = 0, valid_ratio: float = 0.1,
    order: str | None = None,
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
    if order is None:
        return leave_one_out(dataset.graph)
    return leave_one_out(dataset.graph, order=order, seed=seed)


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
    run_config: dict[str, Any] | None = None,
    resume: str | Path | None = None,
    monitor_test: bool = False,
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
        only labels the results. ``run_config`` (optional) is stored in checkpoints;
        ``resume`` continues training from a checkpoint (:meth:`Trainer.fit`).
        ``monitor_test`` also evaluates the test set every ``eval_every`` epochs for
        learning curves (each history record's ``"monitor"``; it selects nothing and its
        time is not training time: see :meth:`Trainer.fit`).
    """
    config = config or TrainConfig()
    model_kwargs = dict(model_kwargs or {})
    seed_everything(config.seed)  # the initial weights are part of what --seed fixes
    if model is None:
        model = build_model(model_name, split.train, **model_kwargs)
    trainer = Trainer(model, config, evaluator=evaluator)
    trainer.run_config = run_config
    train = Interactions.from_graph(split.train)
    valid = None if split.valid is None else Interactions.from_graph(split.valid)
    exclude = [train] if valid is None else [train, valid]
    test_interactions = Interactions.from_graph(split.test)
    monitor = None
    if monitor_test:
        def monitor(current: Recommender) -> dict[str, float]:
            return trainer.evaluate(test_interactions, exclude=exclude).metrics
    fit: TrainResult = trainer.fit(train, valid, resume=resume, monitor=monitor)
    start = time.perf_counter()
    test: EvalResult = trainer.evaluate(test_interactions, exclude=exclude, train=train)
    if trainer.model.predicts_ratings and test_interactions.edge_weight is not None:
        ratings = RatingEvaluator().evaluate(trainer.model, test_interactions)
        test.metrics.update({name: value for name, value in ratings.metrics.items()
                             if not name.startswith("neg_")})
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
    if fit.pretraining:  # models trained first (NeuMF's GMF and MLP parts)
        results["pretraining"] = {name: {"best_epoch": stage.best_epoch,
                                         "epochs": stage.epochs_run,
                                         "train_seconds": stage.train_seconds}
                                  for name, stage in fit.pretraining.items()}
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
        model_kwargs = merge_settings(model_kwargs, chosen["hyperparameters"])  # groups too
        train_kwargs.update(chosen["train"])
    return model_kwargs, train_kwargs


# ---------------------------------------------------------------------------------------------
# Run configurations: one dict from defaults, preset, config file and command line

#: keys of a run configuration and the sections (tables) it holds
RUN_KEYS = ("model", "dataset", "preset", "seed")
RUN_SECTIONS = ("data", "split", "hyperparameters", "train", "eval")
_SPLIT_KEYS = ("name", "valid_ratio", "seed", "order")
_EVAL_KEYS = ("sampled", "cold_max_train")
# TrainConfig fields that describe where and how verbosely a run happens, not what it
# computes: a replay may change them
_TRAIN_ENVIRONMENT = ("device", "progress", "checkpoint")


def resolve_run(raw: dict[str, Any]) -> dict[str, Any]:
    """The complete configuration of a run, checked, from a partial one.

    ``raw`` has ``model`` and ``dataset`` and optionally ``preset`` (``"auto"``: the
    ``(model, dataset)`` preset, the default; ``"none"``), ``seed`` (seeds the split and
    training unless they set their own) and the sections ``data``, ``split``,
    ``hyperparameters``, ``train``, ``eval``. Every hyperparameter and training field is
    filled in from the model's declared defaults, then the preset, then ``raw``.

    Raises ``ValueError`` naming the key for anything unknown or out of range — before any
    data is read.
    """
    unknown = set(raw) - set(RUN_KEYS) - set(RUN_SECTIONS)
    if unknown:
        raise ValueError(f"unknown configuration key {sorted(unknown)[0]!r}; keys are "
                         f"{', '.join(RUN_KEYS + RUN_SECTIONS)}")
    for key in ("model", "dataset"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"the configuration needs {key} = NAME")
    for section in RUN_SECTIONS:
        if not isinstance(raw.get(section, {}), dict):
            raise ValueError(f"configuration section {section!r} must be a table")
    name, dataset = raw["model"], raw["dataset"]
    cls = model_class(name)
    from graphrec.data import DATASETS  # the data layer's registry of loaders

    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose from {sorted(DATASETS)}")
    preset_name = raw.get("preset", "auto")
    if preset_name not in ("auto", "none"):
        raise ValueError(f"preset must be 'auto' or 'none' (got {preset_name!r})")
    chosen = preset(name, dataset) if preset_name == "auto" else preset("", "")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed!r})")

    model_kwargs = hyperparameters(name)
    model_kwargs.update(check_hyperparameters(name, merge_settings(
        chosen["hyperparameters"], raw.get("hyperparameters", {}))))

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    train = {**train_defaults(name), **chosen["train"], **raw.get("train", {})}
    for key in train:
        if key not in fields:
            raise ValueError(f"unknown training setting {key!r}; settings are "
                             f"{', '.join(fields)}")
    train.setdefault("seed", seed)
    train_config = TrainConfig(**{k: tuple(v) if k == "ks" else v for k, v in train.items()})

    split = {"name": "auto", "valid_ratio": 0.1, "seed": seed, "order": None,
             **chosen["split"], **raw.get("split", {})}
    for key in split:
        if key not in _SPLIT_KEYS:
            raise ValueError(f"unknown split setting {key!r}; settings are "
                             f"{', '.join(_SPLIT_KEYS)}")
    if split["name"] not in SPLITS:
        raise ValueError(f"split.name must be one of {SPLITS} (got {split['name']!r})")
    ratio = split["valid_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 0.5:
        raise ValueError(f"valid_ratio must lie in [0, 0.5) (got {ratio!r})")
    if ratio == 0 and cls.selects_on_validation and train_config.patience > 0 \
            and split["name"] not in ("loo",):
        raise ValueError(f"valid_ratio 0 leaves model {name!r} nothing to early-stop on; "
                         "give a positive ratio or set patience 0")
    if split["order"] not in (None, "time", "random"):
        raise ValueError(f"split.order must be 'time' or 'random' (got {split['order']!r})")

    evaluation = {"sampled": None, "cold_max_train": 5, **raw.get("eval", {})}
    for key in evaluation:
        if key not in _EVAL_KEYS:
            raise ValueError(f"unknown eval setting {key!r}; settings are {', '.join(_EVAL_KEYS)}")
    sampled = evaluation["sampled"]
    if sampled is not None and (isinstance(sampled, bool) or not isinstance(sampled, int)
                                or sampled < 1):
        raise ValueError(f"eval.sampled must be a positive number of items (got {sampled!r})")
    return {"model": name, "dataset": dataset, "preset": preset_name, "seed": seed,
            "data": {**chosen["data"], **raw.get("data", {})}, "split": split,
            "hyperparameters": model_kwargs, "train": train_config.to_dict(),
            "eval": evaluation}


def merge_settings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s values, tables merged key by key (a preset's group fields
    survive a configuration that sets another field of the same group)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_settings(out[key], value)
        else:
            out[key] = value
    return out


def choose_split(config: dict[str, Any], dataset: RecDataset) -> dict[str, Any]:
    """The split actually used: ``auto`` resolved, and no validation held out of a fixed
    split for a model that selects nothing on it."""
    split = dict(config["split"])
    cls = model_class(config["model"])
    if split["name"] == "auto":
        split["name"] = cls.default_split or ("fixed" if dataset.split is not None
                                              else "random")
    if split["name"] == "fixed" and not cls.selects_on_validation:
        split["valid_ratio"] = 0.0  # the whole training file is fitted
    if split["name"] in ("random", "temporal") and split["valid_ratio"] == 0:
        raise ValueError("valid_ratio must be positive for random and temporal splits (it is "
                         "also their test share)")
    return split


def fingerprint(dataset: RecDataset) -> str:
    """SHA-256 of the data set's interactions (pairs, weights, times) and sizes."""
    from graphrec.graph.build import INTERACTS, ITEM, USER

    digest = hashlib.sha256()
    graph = dataset.graph
    digest.update(f"{graph[USER].num_nodes} {graph[ITEM].num_nodes}".encode())
    store = graph[INTERACTS]
    for key in ("edge_index", "edge_weight", "time"):
        if key in store:
            digest.update(key.encode())
            digest.update(store[key].contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of graphrec and the libraries a result depends on."""
    import numpy
    import scipy
    import torch_geometric

    from graphrec._version import __version__

    return {"graphrec": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__}


def load_run_dataset(config: dict[str, Any]) -> RecDataset:
    """Loads the data set of a resolved configuration (its ``data`` section are the
    loader's arguments)."""
    from graphrec.data import load_dataset

    data = dict(config["data"])
    return load_dataset(config["dataset"], data.pop("root", None), **data)


def run(config: dict[str, Any], resume: str | Path | None = None,
        dataset: RecDataset | None = None, monitor_test: bool = False
        ) -> tuple[Recommender, dict[str, Any]]:
    """Runs a configuration (:func:`resolve_run` is applied first): load, split, build,
    train (``resume``: from a checkpoint of the same run), test (``monitor_test``: also
    every ``eval_every`` epochs, for learning curves; see :func:`run_experiment`).

    Returns ``(model, results)``; ``results["config"]`` is the resolved configuration with
    the split actually used, ``results["data_fingerprint"]`` and ``results["versions"]``
    say what it ran on, and ``graphrec train --config results.json`` replays it.
    """
    config = resolve_run(config)
    dataset = dataset if dataset is not None else load_run_dataset(config)
    config["split"] = split_settings = choose_split(config, dataset)
    split = make_split(dataset, split_settings["name"], seed=split_settings["seed"],
                       valid_ratio=split_settings["valid_ratio"], order=split_settings["order"])
    train_config = TrainConfig(**{k: tuple(v) if k == "ks" else v
                                  for k, v in config["train"].items()})
    evaluator = None
    if config["eval"]["sampled"] is not None:
        evaluator = Evaluator(ks=train_config.ks, sampled_negatives=config["eval"]["sampled"],
                              sample_seed=split_settings["seed"])
    model, results = run_experiment(
        dataset, split, config["model"], config["hyperparameters"], train_config,
        split_name=split_settings["name"], evaluator=evaluator,
        cold_max_train=config["eval"]["cold_max_train"], run_config=config, resume=resume,
        monitor_test=monitor_test)
    results["config"] = config
    results["data_fingerprint"] = fingerprint(dataset)
    results["versions"] = versions()
    return model, results


def replayable(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved configuration that a replay takes over (the training
    environment — device, progress bars, checkpoint path — stays the caller's)."""
    out = {key: config[key] for key in RUN_KEYS + RUN_SECTIONS if key in config}
    out["train"] = {k: v for k, v in config.get("train", {}).items()
                    if k not in _TRAIN_ENVIRONMENT}
    return out
