"""Full-ranking evaluation: every item is a candidate; known interactions are masked."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from graphrec.eval.metrics import METRICS, ranking_metrics
from graphrec.eval.ranking import mask_interactions, topk_items
from graphrec.graph.interactions import Interactions


@dataclass
class EvalResult:
    """Mean metrics over the evaluated users, and who was (not) evaluated.

    Attributes:
        metrics: ``{"recall@20": 0.21, ...}`` averaged over evaluated users.
        num_users: users evaluated (those with at least one target item).
        num_skipped_users: users of the requested set with no target item (not evaluated).
        num_users_without_train: evaluated users with no training interaction (cold users;
            they are scored, and counted here so a reader knows how many there were).
        per_user: ``{metric: [num_users]}`` values, when asked for.
        users: the evaluated users (aligned with ``per_user``), when asked for.
    """

    metrics: dict[str, float]
    num_users: int
    num_skipped_users: int
    num_users_without_train: int
    per_user: dict[str, Tensor] = field(default_factory=dict, repr=False)
    users: Tensor | None = field(default=None, repr=False)

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]


class Evaluator:
    r"""Full-ranking evaluation of any :class:`~graphrec.models.Recommender`.

    For each user with target items, all items are scored, the items in ``exclude``
    (training, and validation at test time) are set to :math:`-\infty`, the top
    ``max(ks)`` are taken, and the metrics of :mod:`graphrec.eval.metrics` are computed
    from the hit matrix. Users are processed in batches; everything stays on the scores'
    device.

    Args:
        ks: cut-offs, e.g. ``(10, 20)``.
        metrics: names from :data:`graphrec.eval.metrics.METRICS`.
        batch_size: users per scoring batch (bounds memory: ``batch_size * num_items`` floats).
    """

    def __init__(
        self,
        ks: Sequence[int] = (10, 20),
        metrics: Sequence[str] = METRICS,
        batch_size: int = 1024,
    ) -> None:
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be positive cut-offs (got {ks})")
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self.metrics = tuple(metrics)
        self.batch_size = batch_size

    def scorer(self, model) -> Callable[[Tensor], Tensor]:
        """``users -> [B, num_items]`` scores to rank (subclasses may score otherwise, e.g.
        :class:`~graphrec.eval.item_to_item.ItemToItemEvaluator`)."""
        return model.scorer()

    def evaluable(self, users: Tensor) -> Tensor:
        """Which of ``users`` can be evaluated besides having a target (all by default)."""
        return torch.ones_like(users, dtype=torch.bool)

    def mask(self, scores: Tensor, users: Tensor,
             exclude: Interactions | Sequence[Interactions] | None) -> Tensor:
        """Removes never-ranked items from ``scores`` (``exclude``'s, by default)."""
        return mask_interactions(scores, users, exclude)

    @torch.no_grad()
    def evaluate(
        self,
        model,
        target: Interactions,
        exclude: Interactions | Sequence[Interactions] | None = None,
        users: Tensor | None = None,
        train: Interactions | None = None,
        keep_per_user: bool = False,
    ) -> EvalResult:
        """Evaluates ``model`` on ``target`` interactions.

        Args:
            model: anything with ``scorer() -> callable(users) -> [B, num_items] scores``.
            target: the relevant items per user (validation or test).
            exclude: interactions to mask (never recommended, never counted).
            users: restrict to these users (e.g. a cold-user slice); default all users.
            train: training interactions, to count evaluated users without any.
            keep_per_user: also return per-user values.
        """
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        try:
            scorer = self.scorer(model)
            degree = target.user_degree()
            requested = (torch.arange(target.num_users, device=target.device) if users is None
                         else torch.as_tensor(users, device=target.device))
            has_target = (degree[requested] > 0) & self.evaluable(requested)
            eval_users = requested[has_target]
            sums = {}
            per_user: dict[str, list[Tensor]] = {}
            for start in range(0, eval_users.numel(), self.batch_size):
                batch = eval_users[start:start + self.batch_size]
                scores = scorer(batch)
                device = scores.device
                batch = batch.to(device)
                scores = self.mask(scores.float().clone(), batch, exclude)
                top, _ = topk_items(scores, max(self.ks))
                local_target = target.to(device)
                hits = local_target.contains(batch.view(-1, 1), top)
                values = ranking_metrics(hits, local_target.user_degree()[batch], self.ks,
                                         self.metrics)
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value.sum()
                    if keep_per_user:
                        per_user.setdefault(name, []).append(value.cpu())
        finally:
            if was_training and hasattr(model, "train"):
                model.train()
        count = int(eval_users.numel())
        metrics = {name: float(total) / count for name, total in sums.items()} if count else {
            f"{name}@{k}": math.nan for name in self.metrics for k in self.ks}
        without_train = 0
        if train is not None and count:
            without_train = int((train.to(eval_users.device).user_degree()[eval_users] == 0).sum())
        return EvalResult(
            metrics=metrics,
            num_users=count,
            num_skipped_users=int((~has_target).sum()),
            num_users_without_train=without_train,
            per_user={k: torch.cat(v) for k, v in per_user.items()},
            users=eval_users.cpu() if keep_per_user else None,
        )
