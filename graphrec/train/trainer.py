"""The one training loop for every model."""
from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from graphrec.eval.evaluator import EvalResult, Evaluator
from graphrec.graph.interactions import Interactions
from graphrec.train.distributed import data_parallel_loss, world

if TYPE_CHECKING:  # the models import the losses of this package: no runtime cycle
    from graphrec.models.base import Recommender

logger = logging.getLogger("graphrec.train")


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


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer`.

    Attributes:
        epochs: maximum number of epochs.
        batch_size: training batch size.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (models carry their own L2 terms; 0 by default).
        eval_every: evaluate on validation every N epochs.
        patience: stop after this many evaluations without improvement (0: never stop early).
        metric: validation metric to select the best epoch, e.g. ``"ndcg@20"``; the
            largest value wins, so errors are selected negated (``"neg_rmse"`` of
            :class:`~graphrec.eval.ratings.RatingEvaluator`).
        ks: cut-offs of the evaluation.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``.
        seed: seeds initialisation, shuffling and negative sampling.
        checkpoint: path to save the best model to (optional).
        progress: show tqdm progress bars.
        max_seconds: stop after this much training time (optional).
        amp: compute the training loss under bfloat16 autocast on CUDA (no effect on
            other devices; bfloat16 needs no loss scaling).
        lr_decay: on a validation plateau, multiply the learning rate by this factor
            (``torch.optim.lr_scheduler.ReduceLROnPlateau`` on ``metric``); 1 disables it.
        lr_patience: evaluations without improvement before the learning rate decays.
        min_lr: the learning rate never decays below this.
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

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns: per-epoch history and the best epoch."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_metric: float | None = None
    train_seconds: float = 0.0
    epochs_run: int = 0


class Trainer:
    """Trains any :class:`~graphrec.models.Recommender` and evaluates it.

    Per epoch: iterate ``model.train_batches(...)``, Adam step on ``model.loss(batch)``;
    every ``eval_every`` epochs evaluate on validation, keep the best weights (by
    ``config.metric``), stop after ``patience`` evaluations without improvement, and at
    the end restore the best weights. Models without trainable parameters are only
    ``fit``.

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
        self.epoch = 0

    def fit(self, train: Interactions, valid: Interactions | None = None) -> TrainResult:
        """Trains on ``train``; early-stops on ``valid`` (training items masked)."""
        config = self.config
        seed_everything(config.seed)
        train = train.to(self.device)
        valid = None if valid is None else valid.to(self.device)
        result = TrainResult()
        start = time.perf_counter()
        self.model.fit(train)
        if self.optimizer is None:
            result.train_seconds = time.perf_counter() - start
            return result

        batches = self.model.train_batches(train, config.batch_size, self.device, config.seed)
        best_state, evals_since_best = None, 0
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
                    if config.checkpoint and self.rank == 0:
                        self.save_checkpoint(config.checkpoint)
                else:
                    evals_since_best += 1
            result.history.append(record)
            if self.rank == 0:
                logger.info("epoch %d loss %.4f %.2fs %s", epoch, record["loss"], seconds,
                            _format_metrics(record.get("valid", {})))
            elapsed = time.perf_counter() - start
            if config.patience and evals_since_best >= config.patience:
                logger.info("early stop at epoch %d (best %d)", epoch, result.best_epoch)
                break
            if config.max_seconds is not None and elapsed > config.max_seconds:
                logger.info("time budget reached at epoch %d", epoch)
                break
        result.train_seconds = time.perf_counter() - start
        result.epochs_run = self.epoch
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return result

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

    def save_checkpoint(self, path: str | Path) -> None:
        """Saves model and optimiser state, epoch and config."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({
            "model": self.model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.epoch,
            "config": self.config.to_dict(),
        }, path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restores a checkpoint written by :meth:`save_checkpoint` (training resumes after
        its epoch)."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])


def _format_metrics(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.split("@")[0] in
                    ("recall", "ndcg", "rmse", "mae"))
