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

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graphrec.eval.evaluator import Evaluator
from graphrec.eval.metrics import METRICS
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


class ItemToItemEvaluator(Evaluator):
    r"""Ranks all items but the query for each user's query item; metrics of the target.

    The model needs ``item_scorer() -> callable(items) -> [B, num_items]`` item-to-item
    scores (see :meth:`graphrec.models.base.Recommender.item_scorer`). Batching, top-k and
    metrics are :class:`~graphrec.eval.evaluator.Evaluator`'s; only what is scored differs.
    The query itself always leaves the ranking; ``exclude`` (the user's history) does too
    only with ``mask_history=True`` (PinSAGE's protocol keeps it rankable, the
    item-embedding protocol of :mod:`graphrec.eval.item_embeddings` masks it).
    Users without a query (``-1``) or without a target are skipped.

    Args:
        queries: ``[num_users]`` query item per user (``-1``: user not evaluated), e.g.
            from :func:`last_items` or :func:`top_weighted_items`.
        ks: cut-offs.
        metrics: names from :data:`graphrec.eval.metrics.METRICS`.
        batch_size: queries per scoring batch.
        mask_history: also mask the ``exclude`` items (default ``False``).
    """

    def __init__(self, queries: Tensor, ks: Sequence[int] = (10, 20),
                 metrics: Sequence[str] = METRICS, batch_size: int = 1024,
                 mask_history: bool = False) -> None:
        super().__init__(ks, metrics, batch_size, mask_history=mask_history)
        self.queries = torch.as_tensor(queries, dtype=torch.long).view(-1)

    def scorer(self, model, history: Interactions | Sequence[Interactions] | None = None
               ) -> Callable[[Tensor], Tensor]:
        item_scorer = model.item_scorer()  # the query item alone: history is not used

        def score(users: Tensor) -> Tensor:
            query = self.queries.to(users.device)[users]
            scores = item_scorer(query).float().clone()
            scores[torch.arange(query.numel(), device=scores.device),
                   query.to(scores.device)] = float("-inf")
            return scores

        return score

    def evaluable(self, users: Tensor) -> Tensor:
        if users.numel() and int(users.max()) >= self.queries.numel():
            raise ValueError(f"user {int(users.max())} has no query entry "
                             f"({self.queries.numel()} queries)")
        return self.queries.to(users.device)[users] >= 0
