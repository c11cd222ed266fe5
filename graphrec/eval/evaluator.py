"""Full-ranking evaluation: every item is a candidate; known interactions are masked."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from graphrec.eval.metrics import METRICS, auc, ranking_metrics
from graphrec.graph.interactions import Interactions
from graphrec.graph.ranking import mask_interactions, topk_items
from graphrec.sampling.negative import NegativeSampler


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

    ``exclude`` is also the history handed to the model (``model.scorer_from(exclude)``):
    a sequence model reads each user's input sequence from it, so at test time (``exclude``
    = training + validation) the validation item is the last input.

    Args:
        ks: cut-offs, e.g. ``(10, 20)``.
        metrics: names from :data:`graphrec.eval.metrics.METRICS`, and ``"auc"``
            (:func:`~graphrec.eval.metrics.auc`, reported as ``"auc"``: per user, target
            items against every other item not masked; with ``mask_history=False`` the
            ``exclude`` items count as negatives, as LightFM's ``auc_score`` without
            ``train_interactions``).
        batch_size: users per scoring batch (bounds memory: ``batch_size * num_items`` floats).
        mask_history: mask the ``exclude`` items (default). ``False`` keeps them rankable
            (repeat-consumption data) while still passing them to the model as history.
        sampled_negatives: also compute the sampled protocol of the NCF and SASRec papers:
            each user's targets ranked among this many *distinct* items drawn uniformly
            from the items the user never interacted with (not in ``exclude`` nor
            ``target``; :meth:`~graphrec.sampling.NegativeSampler.sample_distinct`); a
            user with fewer such items is ranked among all of them. Its metrics are
            reported as ``"sampled_<metric>@k"``. ``None`` (default): full ranking only.
        sample_seed: seeds those draws (the same candidates for every model and epoch).
    """

    def __init__(
        self,
        ks: Sequence[int] = (10, 20),
        metrics: Sequence[str] = METRICS,
        batch_size: int = 1024,
        mask_history: bool = True,
        sampled_negatives: int | None = None,
        sample_seed: int = 0,
    ) -> None:
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be positive cut-offs (got {ks})")
        unknown = set(metrics) - set(METRICS) - {"auc"}
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; choose from "
                             f"{METRICS + ('auc',)}")
        if sampled_negatives is not None and sampled_negatives < 1:
            raise ValueError(f"sampled_negatives must be positive (got {sampled_negatives})")
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self.metrics = tuple(metrics)
        self.batch_size = batch_size
        self.mask_history = mask_history
        self.sampled_negatives = sampled_negatives
        self.sample_seed = sample_seed

    def scorer(self, model, history: Interactions | Sequence[Interactions] | None = None
               ) -> Callable[[Tensor], Tensor]:
        """``users -> [B, num_items]`` scores to rank: ``model.scorer_from(history)`` (the
        history is what the evaluation masks; sequence models read their inputs from it).
        Subclasses may score otherwise, e.g.
        :class:`~graphrec.eval.item_to_item.ItemToItemEvaluator`."""
        if hasattr(model, "scorer_from"):
            return model.scorer_from(history)
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
            model: anything with ``scorer() -> callable(users) -> [B, num_items] scores``
                (a :class:`~graphrec.models.Recommender`: ``scorer_from(exclude)``).
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
            scorer = self.scorer(model, exclude)
            mask = exclude if self.mask_history else None
            sampler = generator = None
            if self.sampled_negatives is not None:
                sampler = NegativeSampler(known_interactions(target, exclude))
                generator = torch.Generator(device=target.device).manual_seed(self.sample_seed)
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
                local_target = target.to(device)
                values = self._metrics(self.mask(scores.float().clone(), batch, mask),
                                       batch, local_target)
                if sampler is not None:
                    negatives = sampler.sample_distinct(batch.to(target.device),
                                                        self.sampled_negatives,
                                                        generator=generator).to(device)
                    sampled = sampled_candidates(scores.float(), batch, local_target,
                                                 negatives)
                    values.update({f"sampled_{name}": value for name, value in
                                   self._metrics(sampled, batch, local_target).items()})
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value.sum()
                    if keep_per_user:
                        per_user.setdefault(name, []).append(value.cpu())
        finally:
            if was_training and hasattr(model, "train"):
                model.train()
        count = int(eval_users.numel())
        prefixes = ("",) if self.sampled_negatives is None else ("", "sampled_")
        metrics = {name: float(total) / count for name, total in sums.items()} if count else {
            f"{prefix}{name}@{k}": math.nan for prefix in prefixes for name in self.metrics
            for k in self.ks if name != "auc"}
        if not count and "auc" in self.metrics:
            metrics.update({f"{prefix}auc": math.nan for prefix in prefixes})
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

    def _metrics(self, scores: Tensor, users: Tensor, target: Interactions) -> dict[str, Tensor]:
        top, _ = topk_items(scores, max(self.ks))
        hits = target.contains(users.view(-1, 1), top)
        ranked = tuple(m for m in self.metrics if m != "auc")
        values = ranking_metrics(hits, target.user_degree()[users], self.ks, ranked)
        if "auc" in self.metrics:
            row, item = target.rows(users)
            positive = torch.zeros_like(scores, dtype=torch.bool)
            positive[row, item] = True
            # masked (-inf) items are not candidates; a user without negatives counts 0.5
            value = auc(scores, positive, candidate=scores > float("-inf"))
            values["auc"] = torch.nan_to_num(value, nan=0.5)
        return values


def known_interactions(
    target: Interactions, exclude: Interactions | Sequence[Interactions] | None
) -> Interactions:
    """Every interaction of ``target`` and ``exclude`` as one set (what sampled candidates
    must avoid)."""
    parts = [target] + ([] if exclude is None else
                        [exclude] if isinstance(exclude, Interactions) else list(exclude))
    edge_index = torch.cat([p.to(target.device).edge_index for p in parts], dim=1)
    return Interactions(edge_index, target.num_users, target.num_items)


def sampled_candidates(scores: Tensor, users: Tensor, target: Interactions,
                       negatives: Tensor) -> Tensor:
    """Scores restricted to each user's targets and sampled ``negatives`` ``[B, S]``; every
    other item gets ``-inf``. Entries equal to ``num_items`` (``scores.size(1)``) are
    padding (a user with fewer than ``S`` candidates,
    :meth:`~graphrec.sampling.NegativeSampler.sample_distinct`) and are skipped."""
    out = torch.full_like(scores, float("-inf"))
    if negatives.dim() != 2 or negatives.size(0) != users.numel():
        raise ValueError(f"negatives must be [num_users={users.numel()}, S] "
                         f"(got {tuple(negatives.shape)})")
    rows, cols = (negatives < scores.size(1)).nonzero(as_tuple=True)
    items = negatives[rows, cols]
    out[rows, items] = scores[rows, items]
    row, item = target.rows(users)
    out[row, item] = scores[row, item]
    return out
