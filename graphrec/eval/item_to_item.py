"""Item-to-item evaluation: given a query item per user, rank every other item and look
for the user's held-out item.

PinSAGE's task at Pinterest is "related pins": from one query item, the next item a user
engages with. With leave-one-out data each user gives one query (their last training item,
or their most engaged one when there are no times) and one target (the held-out item);
all items except the query are ranked by the model's item-to-item scores and the metrics
of :mod:`graphrec.eval.metrics` are computed from the hit matrix, as in the full-ranking
:class:`~graphrec.eval.evaluator.Evaluator`. :class:`ItemToItemEvaluator` has the
evaluator's ``evaluate`` signature, so the one :class:`~graphrec.train.Trainer` can early-stop
on item-to-item metrics too.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from graphrec.eval.evaluator import EvalResult
from graphrec.eval.metrics import METRICS, ranking_metrics
from graphrec.eval.ranking import topk_items
from graphrec.graph.interactions import Interactions


def last_items(train: Interactions, time: Tensor) -> Tensor:
    """Each user's latest training item (``time`` aligned with ``train``'s sorted edges;
    ties go to the later edge); ``-1`` for users without training items."""
    return _argmax_per_user(train, time.to(train.device).double())


def top_weighted_items(train: Interactions, seed: int | None = None) -> Tensor:
    """Each user's most engaged training item (largest ``edge_weight``, e.g. play count;
    ties: smaller item). Without weights, a seeded random item. ``-1`` for users without
    training items."""
    if train.edge_weight is not None:
        # weight first, then smaller item index: subtract a fraction below the weights' gaps
        key = train.edge_weight.double() - train.indices.double() / (train.num_items + 1) * 1e-3
        return _argmax_per_user(train, key)
    generator = torch.Generator(device=train.device).manual_seed(seed or 0)
    key = torch.rand(train.num_interactions, generator=generator, device=train.device,
                     dtype=torch.float64)
    return _argmax_per_user(train, key)


def _argmax_per_user(train: Interactions, key: Tensor) -> Tensor:
    queries = torch.full((train.num_users,), -1, dtype=torch.long, device=train.device)
    if train.num_interactions == 0:
        return queries
    # one stable sort by (user, key): the last entry of each user's run is its argmax
    order = torch.sort(key, stable=True).indices
    order = order[torch.sort(train.users[order], stable=True).indices]
    users = train.users[order]
    last = torch.ones_like(users, dtype=torch.bool)
    last[:-1] = users[1:] != users[:-1]
    queries[users[last]] = train.indices[order[last]]
    return queries


class ItemToItemEvaluator:
    r"""Ranks all items but the query for each user's query item; metrics of the target.

    The model needs ``item_scorer() -> callable(items) -> [B, num_items]`` item-to-item
    scores (see :meth:`graphrec.models.base.Recommender.item_scorer`).

    Args:
        queries: ``[num_users]`` query item per user (``-1``: user not evaluated), e.g.
            from :func:`last_items` or :func:`top_weighted_items`.
        ks: cut-offs.
        metrics: names from :data:`graphrec.eval.metrics.METRICS`.
        batch_size: queries per scoring batch.
    """

    def __init__(self, queries: Tensor, ks: Sequence[int] = (10, 20),
                 metrics: Sequence[str] = METRICS, batch_size: int = 1024) -> None:
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be positive cut-offs (got {ks})")
        self.queries = torch.as_tensor(queries, dtype=torch.long).view(-1)
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self.metrics = tuple(metrics)
        self.batch_size = batch_size

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
        """Item-to-item metrics over ``users`` (default all) that have a query and a target.

        ``exclude`` is accepted for signature compatibility with
        :class:`~graphrec.eval.evaluator.Evaluator` and ignored: only the query itself is
        removed from the ranking. ``train`` is likewise unused.
        """
        del exclude, train
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        try:
            scorer = model.item_scorer()
            device = target.device
            queries = self.queries.to(device)
            if queries.numel() != target.num_users:
                raise ValueError(f"{queries.numel()} queries for {target.num_users} users")
            requested = (torch.arange(target.num_users, device=device) if users is None
                         else torch.as_tensor(users, dtype=torch.long, device=device))
            usable = (target.user_degree()[requested] > 0) & (queries[requested] >= 0)
            eval_users = requested[usable]
            sums: dict[str, Tensor] = {}
            per_user: dict[str, list[Tensor]] = {}
            for start in range(0, eval_users.numel(), self.batch_size):
                batch = eval_users[start:start + self.batch_size]
                query = queries[batch]
                scores = scorer(query).float().clone()
                scores[torch.arange(query.numel(), device=scores.device),
                       query.to(scores.device)] = float("-inf")
                top, _ = topk_items(scores, max(self.ks))
                local_target = target.to(top.device)
                batch = batch.to(top.device)
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
        metrics = ({name: float(total) / count for name, total in sums.items()} if count else
                   {f"{name}@{k}": math.nan for name in self.metrics for k in self.ks})
        return EvalResult(metrics=metrics, num_users=count,
                          num_skipped_users=int((~usable).sum()), num_users_without_train=0,
                          per_user={k: torch.cat(v) for k, v in per_user.items()},
                          users=eval_users.cpu() if keep_per_user else None)
