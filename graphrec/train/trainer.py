"""The one training loop for every model."""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from graphrec.eval.evaluator import EvalResult, Evaluator
from graphrec.eval.metrics import METRICS
from graphrec.eval.ratings import RATING_METRICS
from graphrec.files import atomic_torch_save
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender
from graphrec.sampling.stream_state import load_stream_state, stream_state
from graphrec.train.distributed import data_parallel_loss, world

logger = logging.getLogger("graphrec.train")

# TrainConfig fields that say where and how a run happens: a pretraining stage keeps the
# run's own (its settings choose what it computes: learning rate, epochs, ...)
_ENVIRONMENT = ("device", "progress", "checkpoint", "seed", "max_seconds")


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/``None`` picks CUDA when available, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_device(device: str | torch.device) -> None:
    """Raises a ``ValueError`` unless ``device`` is ``"auto"``, ``"cpu"``, or a CUDA / MPS
    device that this machine has (``"cuda"`` without a GPU fails here, not at the first
    tensor moved there)."""
    if isinstance(device, str) and device == "auto":
        return
    expected = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be {expected} (got {device!r})") from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {device!r} requested but CUDA is not available on this "
                             "machine (use device='cpu' or 'auto')")
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {device!r} requested but this machine has {count} CUDA "
                             f"device(s) (cuda:0..cuda:{count - 1})")
        return
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} requested but MPS is not available on this "
                             "machine (use device='cpu' or 'auto')")
        return
    raise ValueError(f"device must be {expected} (got {device!r})")


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer`, checked when the config is made (``ValueError`` naming
    the setting and what it accepts).

    Attributes:
        epochs: maximum number of epochs.
        batch_size: training batch size.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (models carry their own L2 terms; 0 by default).
        eval_every: evaluate on validation every N epochs.
        patience: stop after this many evaluations without improvement (0: never stop early).
        metric: validation metric to select the best epoch, e.g. ``"ndcg@20"``: a name of
            :data:`graphrec.eval.metrics.METRICS` (or ``sampled_`` + one), ``@``, a cut-off
            in ``ks``. The largest value wins, so errors are selected negated
            (``"neg_rmse"`` of :class:`~graphrec.eval.ratings.RatingEvaluator`).
        ks: cut-offs of the evaluation (positive integers).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, ``"auto"``; a device this
            machine lacks is refused.
        seed: seeds initialisation, shuffling and negative sampling.
        checkpoint: path of the training state, written atomically after every epoch
            (resumable with ``Trainer.fit(resume=...)``; holds the best weights too).
        progress: show tqdm progress bars.
        max_seconds: stop after this much training time (optional; positive).
        amp: compute the training loss under bfloat16 autocast on CUDA (no effect on
            other devices; bfloat16 needs no loss scaling).
        lr_decay: on a validation plateau, multiply the learning rate by this factor
            (``torch.optim.lr_scheduler.ReduceLROnPlateau`` on ``metric``); 1 disables it.
        lr_patience: evaluations without improvement before the learning rate decays.
        min_lr: the learning rate never decays below this.
        lr_schedule: ``"constant"`` (apart from ``lr_decay``) or ``"cosine"``: the
            learning rate follows half a cosine from ``lr`` down to ``min_lr`` over
            ``epochs`` (``torch.optim.lr_scheduler.CosineAnnealingLR``, stepped after every
            epoch), for fixed schedules trained without validation; exclusive with
            ``lr_decay``.
    """

    epochs: int = 300
    batch_size: int = 2048
    lr: float = 1e-3
    weight_decay: float = 0.0
    eval_every: int = 1
    patience: int = 10
    metric: str = "ndcg@20"
    ks: tuple[int, ...] = (10, 20)
    device: str = "auto"
    seed: int = 0
    checkpoint: str | None = None
    progress: bool = True
    max_seconds: float | None = None
    amp: bool = False
    lr_decay: float = 1.0
    lr_patience: int = 10
    min_lr: float = 0.0
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        # every setting is checked here, so a bad one fails when the config is made, with
        # its name, rather than as a ZeroDivisionError or a NaN loss epochs later
        for name, low in (("epochs", 1), ("batch_size", 1), ("eval_every", 1), ("patience", 0),
                          ("lr_patience", 0)):
            setattr(self, name, check_number(name, getattr(self, name), integer=True, low=low))
        self.lr = check_number("lr", self.lr, low=0, low_open=True)
        self.weight_decay = check_number("weight_decay", self.weight_decay, low=0)
        self.min_lr = check_number("min_lr", self.min_lr, low=0)
        self.lr_decay = check_number("lr_decay", self.lr_decay, low=0, high=1, low_open=True)
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError("lr_schedule must be 'constant' or 'cosine' "
                             f"(got {self.lr_schedule!r})")
        if self.lr_schedule == "cosine" and self.lr_decay < 1.0:
            raise ValueError("lr_schedule='cosine' fixes the learning rate of every epoch; "
                             "it cannot also decay on plateaus (set lr_decay=1)")
        self.max_seconds = check_number("max_seconds", self.max_seconds, low=0, low_open=True,
                                        none_ok=True)
        self.seed = check_number("seed", self.seed, integer=True)
        if isinstance(self.ks, (str, bytes)) or not hasattr(self.ks, "__iter__"):
            raise ValueError(f"ks must be a sequence of positive integers (got {self.ks!r})")
        self.ks = tuple(check_number("ks", k, integer=True, low=1) for k in self.ks)
        if not self.ks:
            raise ValueError("ks must hold at least one cut-off (got an empty sequence)")
        self.metric = _check_metric(self.metric, self.ks)
        check_device(self.device)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _check_metric(metric: str, ks: tuple[int, ...]) -> str:
    """``metric`` as ``name@k`` (optionally ``sampled_name@k``) with a known name and ``k``
    among the evaluated cut-offs ``ks``, or a rating metric of
    :class:`~graphrec.eval.ratings.RatingEvaluator` (``neg_rmse``, ...); a ``ValueError``
    naming the choices otherwise."""
    form = (f"expected name@k with name one of {', '.join(METRICS)} (or 'sampled_' + name) "
            f"and k in ks={list(ks)}, or one of {', '.join(RATING_METRICS)}")
    if isinstance(metric, str) and metric in RATING_METRICS:
        if not metric.startswith("neg_"):  # the largest value wins: errors are negated
            raise ValueError(f"metric {metric!r} would select the largest error; use "
                             f"'neg_{metric}'")
        return metric
    if not isinstance(metric, str) or metric.count("@") != 1:
        raise ValueError(f"metric {metric!r}: {form}")
    name, k = metric.split("@")
    if name.removeprefix("sampled_") not in METRICS:
        raise ValueError(f"metric {metric!r}: unknown name {name!r}; {form}")
    if not (k.isascii() and k.isdigit()) or int(k) not in ks:
        raise ValueError(f"metric {metric!r}: cut-off {k!r} is not in ks={list(ks)} (add it "
                         "to ks or choose another cut-off)")
    return metric


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns: per-epoch history and the best epoch."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_metric: float | None = None
    train_seconds: float = 0.0
    epochs_run: int = 0
    #: the results of the models trained first (``model.pretraining()``), by name
    pretraining: dict[str, TrainResult] = field(default_factory=dict)


class Trainer:
    """Trains any :class:`~graphrec.models.Recommender` and evaluates it.

    Per epoch: iterate ``model.train_batches(...)``, Adam step on ``model.loss(batch)``;
    every ``eval_every`` epochs evaluate on validation, keep the best weights (by
    ``config.metric``), stop after ``patience`` evaluations without improvement, and at
    the end restore the best weights. Models without trainable parameters are only
    ``fit``. Before its first epoch the trainer trains the models that
    ``model.pretraining()`` names (each by a ``Trainer`` of its own with the stage's
    settings, on the same data and validation; results in ``TrainResult.pretraining``),
    then calls ``model.fit(train)``.

    Inside a ``torch.distributed`` process group (``torchrun``; see
    :func:`graphrec.train.distributed.init_distributed`) the loss is wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`: every rank builds the same epoch of
    batches (same seed), takes every ``world_size``-th batch (the epoch's last
    ``len % world_size`` batches are left out so all ranks step together), and gradients are
    averaged, so parameters stay identical on all ranks. Every rank evaluates (identical
    results, identical early stopping); only rank 0 writes checkpoints and logs.
    """

    def __init__(self, model: Recommender, config: TrainConfig | None = None,
                 evaluator: Evaluator | None = None) -> None:
        self.config = config or TrainConfig()
        self.device = resolve_device(self.config.device)
        self.model = model.to(self.device)
        self.evaluator = evaluator or Evaluator(ks=self.config.ks)
        self.rank, self.world_size = world()
        self.loss_fn = (data_parallel_loss(self.model, self.device) if self.world_size > 1
                        else self.model.loss)
        self.use_amp = self.config.amp and self.device.type == "cuda"
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = (torch.optim.Adam(params, lr=self.config.lr,
                                           weight_decay=self.config.weight_decay)
                          if params else None)
        if not 0.0 < self.config.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1] (got {self.config.lr_decay})")
        # plateau decay follows the early-stopping metric with the same notion of
        # improvement (strictly better: threshold 0), so both read one signal
        self.scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="max", factor=self.config.lr_decay,
            patience=self.config.lr_patience, threshold=0.0, min_lr=self.config.min_lr)
            if self.optimizer is not None and self.config.lr_decay < 1.0 else None)
        self.epoch_scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=self.config.epochs, eta_min=self.config.min_lr)
            if self.optimizer is not None and self.config.lr_schedule == "cosine" else None)
        self.epoch = 0
        #: the run's resolved configuration, stored in checkpoints (set by the experiment)
        self.run_config: dict[str, Any] | None = None

    def fit(self, train: Interactions, valid: Interactions | None = None,
            resume: str | Path | None = None,
            monitor: Callable[[Recommender], dict[str, float]] | None = None) -> TrainResult:
        """Trains on ``train``; early-stops on ``valid`` (training items masked).

        With ``config.checkpoint`` the whole training state is written there (atomically)
        after every epoch: weights, optimiser, scheduler, the best weights so far, history,
        early-stopping counters, and the random state of torch, NumPy, Python and the batch
        stream. ``resume`` (such a checkpoint) continues training from it, and ends with
        exactly the weights and metrics of an uninterrupted run on CPU.
        """
        config = self.config
        seed_everything(config.seed)
        train = train.to(self.device)
        valid = None if valid is None else valid.to(self.device)
        result = TrainResult()
        start = time.perf_counter()
        if resume is None:  # a resumed run restores the weights pretraining led to
            for name, stage, settings in self.model.pretraining():
                stage_config = dataclasses.replace(
                    config, **{k: v for k, v in settings.items() if k not in _ENVIRONMENT},
                    checkpoint=None)
                result.pretraining[name] = Trainer(stage, stage_config, self.evaluator).fit(
                    train, valid)
                logger.info("pretrained %s: best epoch %s of %d", name,
                            result.pretraining[name].best_epoch,
                            result.pretraining[name].epochs_run)
        self.model.fit(train)
        if self.optimizer is None:
            result.train_seconds = time.perf_counter() - start
            if config.checkpoint and self.rank == 0:
                self._save_state(config.checkpoint, result, None, 0, None)
            return result

        batches = self.model.train_batches(train, config.batch_size, self.device, config.seed)
        best_state, evals_since_best = None, 0
        if resume is not None:
            result, best_state, evals_since_best = self._load_state(resume, batches)
            start -= result.train_seconds
        for epoch in range(self.epoch + 1, config.epochs + 1):
            self.epoch = epoch
            epoch_start = time.perf_counter()
            self.model.train()
            # the running loss stays on the device: reading it back every step would
            # synchronise CUDA once per batch; the bar shows it every 50 steps
            running, count = torch.zeros((), device=self.device), 0
            bar = tqdm(self._shard(batches), desc=f"epoch {epoch}", leave=False,
                       disable=not config.progress or self.rank > 0)
            for step, batch in enumerate(bar):
                self.optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp):
                    loss = self.loss_fn(batch)
                loss.backward()
                self.optimizer.step()
                running += loss.detach() * len(batch)
                count += len(batch)
                if config.progress and step % 50 == 0:
                    bar.set_postfix(loss=f"{float(running) / count:.4f}", refresh=False)
            total = float(running)
            if not math.isfinite(total):
                raise FloatingPointError(f"training loss is {total} at epoch {epoch}")
            seconds = time.perf_counter() - epoch_start
            record: dict[str, Any] = {"epoch": epoch, "loss": total / max(count, 1),
                                      "seconds": seconds,
                                      "lr": self.optimizer.param_groups[0]["lr"]}
            if self.epoch_scheduler is not None:
                self.epoch_scheduler.step()
            if valid is not None and epoch % config.eval_every == 0:
                evaluation = self.evaluator.evaluate(self.model, valid, exclude=train)
                record["valid"] = evaluation.metrics
                value = evaluation.metrics[config.metric]
                if self.scheduler is not None:
                    self.scheduler.step(value)
                if result.best_metric is None or value > result.best_metric:
                    result.best_metric, result.best_epoch = value, epoch
                    best_state = copy.deepcopy(self.model.state_dict())
                    evals_since_best = 0
                else:
                    evals_since_best += 1
            if monitor is not None and epoch % config.eval_every == 0:
                monitor_start = time.perf_counter()
                was_training = self.model.training
                self.model.eval()
                with torch.no_grad():
                    record["monitor"] = dict(monitor(self.model))
                self.model.train(was_training)
                start += time.perf_counter() - monitor_start  # not training time
            result.history.append(record)
            result.epochs_run = epoch
            result.train_seconds = time.perf_counter() - start
            record["elapsed"] = result.train_seconds  # training so far, validation included
            if config.checkpoint and self.rank == 0:
                self._save_state(config.checkpoint, result, best_state, evals_since_best,
                                 batches)
            if self.rank == 0:
                logger.info("epoch %d loss %.4f %.2fs %s", epoch, record["loss"], seconds,
                            _format_metrics(record.get("valid", {})))
            if config.patience and evals_since_best >= config.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, result.best_epoch)
                break
            if config.max_seconds is not None and result.train_seconds > config.max_seconds:
                logger.info("time budget reached at epoch %d", epoch)
                break
        result.train_seconds = time.perf_counter() - start
        result.epochs_run = self.epoch
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return result

    def _save_state(self, path: str | Path, result: TrainResult,
                    best_state: dict[str, Any] | None, evals_since_best: int,
                    batches: Any) -> None:
        state = self._state()
        state.update({
            "best_model": best_state,
            "evals_since_best": evals_since_best,
            "result": {"history": result.history, "best_epoch": result.best_epoch,
                       "best_metric": result.best_metric, "train_seconds": result.train_seconds,
                       "epochs_run": result.epochs_run},
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": (torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                             else []),
                    "numpy": _numpy_state_to_tensors(np.random.get_state()),
                    "python": _python_state_to_lists(random.getstate())},
            "batches": None if batches is None else stream_state(batches),
            "run": self.run_config,
        })
        atomic_torch_save(state, path)

    def _load_state(self, path: str | Path, batches: Any
                    ) -> tuple[TrainResult, dict[str, Any] | None, int]:
        state = self._read(path)
        if state.get("result") is None:
            raise ValueError(f"{path} is not a training checkpoint of graphrec's Trainer")
        self._restore(state)
        saved = state["result"]
        result = TrainResult(history=list(saved["history"]), best_epoch=saved["best_epoch"],
                             best_metric=saved["best_metric"],
                             train_seconds=float(saved["train_seconds"]),
                             epochs_run=int(saved["epochs_run"]))
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        np.random.set_state(_numpy_state_from_tensors(rng["numpy"]))
        random.setstate(_python_state_from_lists(rng["python"]))
        if state["batches"] is not None:
            load_stream_state(batches, state["batches"])
        return result, state["best_model"], int(state["evals_since_best"])

    def _shard(self, batches: Iterable[Any]) -> Iterable[Any]:
        """This rank's share of an epoch's batches (all of them in a single process)."""
        if self.world_size == 1:
            return batches
        steps = len(batches) // self.world_size * self.world_size
        return islice(batches, self.rank, steps, self.world_size)

    def evaluate(
        self,
        target: Interactions,
        exclude: Interactions | Sequence[Interactions] | None = None,
        **kwargs: Any,
    ) -> EvalResult:
        """Full-ranking evaluation of the current model (see :class:`Evaluator`)."""
        return self.evaluator.evaluate(self.model, target.to(self.device), exclude=exclude,
                                       **kwargs)

    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch_scheduler": (None if self.epoch_scheduler is None
                                else self.epoch_scheduler.state_dict()),
            "epoch": self.epoch,
            "config": self.config.to_dict(),
        }

    def _read(self, path: str | Path) -> dict[str, Any]:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist or is not a file")
        return torch.load(path, map_location=self.device, weights_only=True)

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.epoch_scheduler is not None and state.get("epoch_scheduler") is not None:
            self.epoch_scheduler.load_state_dict(state["epoch_scheduler"])
        self.epoch = int(state["epoch"])

    def save_checkpoint(self, path: str | Path) -> None:
        """Saves model and optimiser state, epoch and config (atomically)."""
        atomic_torch_save(self._state(), path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restores the weights, optimiser and epoch of a checkpoint written by
        :meth:`save_checkpoint` or by :meth:`fit` (``fit(resume=path)`` continues the run)."""
        self._restore(self._read(path))


def _numpy_state_to_tensors(state: tuple) -> list[Any]:
    name, keys, pos, has_gauss, cached = state
    return [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
            float(cached)]


def _numpy_state_from_tensors(state: list[Any]) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return (name, keys.numpy().astype(np.uint32), pos, has_gauss, cached)


def _python_state_to_lists(state: tuple) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_state_from_lists(state: list[Any]) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _format_metrics(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.split("@")[0] in
                    ("recall", "ndcg", "rmse", "mae"))
