r"""Rating prediction: RMSE and MAE of predicted against held-out explicit ratings.

Beside the ranking :class:`~graphrec.eval.Evaluator`, with its ``evaluate`` signature, so the
:class:`~graphrec.train.Trainer` (``Trainer(model, config, evaluator=RatingEvaluator())``)
and :func:`~graphrec.experiment.run_experiment` use it unchanged. The Trainer keeps the epoch
with the *largest* value of ``config.metric``; error metrics are also reported negated
(``neg_rmse``, ``neg_mae``), so ``TrainConfig(metric="neg_rmse")`` selects the lowest RMSE.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from graphrec.eval.evaluator import EvalResult
from graphrec.graph.interactions import Interactions

#: What :meth:`RatingEvaluator.evaluate` reports.
RATING_METRICS = ("rmse", "mae", "neg_rmse", "neg_mae")


class RatingEvaluator:
    r"""Scores every held-out ``(user, item, rating)`` with ``model.predict(users, items)``:

    .. math::
        \mathrm{RMSE} = \sqrt{\tfrac{1}{N} \textstyle\sum (r_{ui} - \hat r_{ui})^2}, \quad
        \mathrm{MAE} = \tfrac{1}{N} \textstyle\sum |r_{ui} - \hat r_{ui}|

    over all :math:`N` ratings (not per user: the rating-prediction literature's and
    Surprise's convention). Whatever the model's ``predict`` does (FunkSVD clips to the
    training range, as Surprise) is what is measured.

    Args:
        batch_size: ratings per ``predict`` call.
    """

    def __init__(self, batch_size: int = 65536) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive (got {batch_size})")
        self.batch_size = batch_size

    @torch.no_grad()
    def evaluate(
        self,
        model,
        target: Interactions,
        exclude: Interactions | Sequence[Interactions] | None = None,
        users: Tensor | None = None,
        train: Interactions | None = None,
    ) -> EvalResult:
        """RMSE and MAE of ``model`` on ``target``'s ratings (its ``edge_weight``).

        Args:
            model: anything with ``predict(users, items) -> [N]`` ratings.
            target: held-out interactions whose ``edge_weight`` are the ratings.
            exclude: ignored (nothing is ranked, so nothing is masked); accepted so the
                Trainer can pass its training interactions.
            users: restrict to these users' ratings.
            train: training interactions, to count evaluated users without any.

        Raises:
            ValueError: ``target`` carries no ratings, or ``model`` has no ``predict``.
        """
        if target.edge_weight is None:
            raise ValueError("rating evaluation needs ratings: target.edge_weight is None")
        if not hasattr(model, "predict"):
            raise ValueError(f"{type(model).__name__} has no predict(users, items): it is not "
                             "a rating-prediction model")
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        try:
            all_users, items, ratings = target.users, target.indices, target.edge_weight
            keep = torch.ones_like(all_users, dtype=torch.bool)
            if users is not None:
                chosen = torch.zeros(target.num_users, dtype=torch.bool, device=target.device)
                chosen[torch.as_tensor(users, device=target.device)] = True
                keep = chosen[all_users]
            all_users, items, ratings = all_users[keep], items[keep], ratings[keep].double()
            squared = absolute = torch.zeros((), dtype=torch.float64, device=target.device)
            for start in range(0, all_users.numel(), self.batch_size):
                end = start + self.batch_size
                predicted = model.predict(all_users[start:end], items[start:end])
                error = ratings[start:end] - predicted.to(ratings.device).double()
                squared = squared + error.pow(2).sum()
                absolute = absolute + error.abs().sum()
        finally:
            if was_training and hasattr(model, "train"):
                model.train()
        count = all_users.numel()
        if count:
            rmse, mae = math.sqrt(float(squared) / count), float(absolute) / count
        else:
            rmse = mae = math.nan
        evaluated = torch.unique(all_users)
        without_train = 0
        if train is not None and count:
            degree = train.to(evaluated.device).user_degree()
            without_train = int((degree[evaluated] == 0).sum())
        requested = target.num_users if users is None else int(torch.as_tensor(users).numel())
        return EvalResult(
            metrics={"rmse": rmse, "mae": mae, "neg_rmse": -rmse, "neg_mae": -mae},
            num_users=int(evaluated.numel()),
            num_skipped_users=requested - int(evaluated.numel()),
            num_users_without_train=without_train,
        )
