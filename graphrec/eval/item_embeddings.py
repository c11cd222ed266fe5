r"""Evaluating item embeddings: link prediction, cold start and item-to-item recall.

The protocol of EGES (`Wang et al., KDD 2018 <https://arxiv.org/abs/1803.02349>`_, section
4.1) plus recommendation quality, prepared once per data set by
:func:`~graphrec.graph.item_embedding_task.prepare_item_embedding_task` (data preparation,
graph level; re-exported here with :class:`ItemEmbeddingTask` and :func:`corrupt_pairs`) and
applied to any ``[num_items, d]`` embedding by :func:`evaluate_item_embeddings`.

The preparation (leave-one-out events, sessions and the item graph, cold items, held-out
unordered pairs, corrupted negatives) is described there.

Scores are cosine similarities of item embeddings. Link-prediction AUC compares held-out
pairs :math:`(i, j)` (orientation drawn at random) with as many corrupted pairs
:math:`(i, j')`, :math:`j'` uniform over the warm items of the item graph such that
:math:`\{i, j'\}` is no edge of the full item graph; the cold-start AUC does the same for
the edges with a cold endpoint, the cold item always kept as :math:`i` and :math:`j'` drawn
from all items of the graph, scored with the model's *cold embeddings* (for EGES/GES every
item embedded from side information alone, so both ends are embedded alike; id-only models
have none and their cold AUC is absent). Item-to-item recall ranks all items by similarity to the
user's query item, masking the user's training items (:class:`~graphrec.eval.Evaluator`,
HR@10 and NDCG@10), on the users whose query and target items are both warm (an id-only
model cannot embed the others; the count is reported).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from graphrec.eval.item_to_item import ItemToItemEvaluator
from graphrec.graph.item_embedding_task import (
    ItemEmbeddingTask,
    corrupt_pairs,
    prepare_item_embedding_task,
)

__all__ = ["CosineItemScorer", "ItemEmbeddingTask", "auc", "corrupt_pairs",
           "evaluate_item_embeddings", "evaluate_recall", "pair_scores",
           "prepare_item_embedding_task"]


def auc(pos_scores: Tensor, neg_scores: Tensor) -> float:
    r"""Area under the ROC curve: :math:`P(s^+ > s^-) + \frac12 P(s^+ = s^-)` over all
    (positive, negative) pairs, by the rank-sum (Mann–Whitney) formula with tied scores
    given their average rank."""
    pos, neg = pos_scores.double().view(-1), neg_scores.double().view(-1)
    if pos.numel() == 0 or neg.numel() == 0:
        raise ValueError("AUC needs at least one positive and one negative score")
    scores = torch.cat([pos, neg])
    values, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    upper = torch.cumsum(counts, 0).double()
    average_rank = upper - (counts.double() - 1) / 2  # 1-based ranks, ties averaged
    rank_sum = average_rank[inverse[: pos.numel()]].sum()
    n_pos, n_neg = pos.numel(), neg.numel()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class CosineItemScorer:
    """Item-to-item scores of an ``[num_items, d]`` embedding: cosine similarity, for
    :class:`~graphrec.eval.item_to_item.ItemToItemEvaluator` (anything with
    ``item_scorer()``)."""

    def __init__(self, item_embeddings: Tensor) -> None:
        self.items = F.normalize(item_embeddings.detach(), dim=-1)

    @property
    def device(self) -> torch.device:
        return self.items.device

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        return lambda items: self.items[items.to(self.items.device)] @ self.items.t()


def pair_scores(item_embeddings: Tensor, pairs: Tensor) -> Tensor:
    """Cosine similarity of the items of each pair (``[2, P]`` → ``[P]``)."""
    emb = F.normalize(item_embeddings.detach(), dim=-1)
    pairs = pairs.to(emb.device)
    return (emb[pairs[0]] * emb[pairs[1]]).sum(-1)


@torch.no_grad()
def evaluate_item_embeddings(
    item_embeddings: Tensor,
    task: ItemEmbeddingTask,
    *,
    cold_embeddings: Tensor | None = None,
    ks: tuple[int, ...] = (10,),
) -> dict[str, float | None]:
    """``auc``, ``cold_auc``, ``hr@k`` and ``ndcg@k`` of an ``[num_items, d]`` embedding.

    ``cold_embeddings``: the ``[num_items, d]`` embeddings that score the pairs with a cold
    item (a side-information model's items embedded from side information alone, both
    ends alike); ``None`` for id-only models, which cannot embed cold items: their
    ``cold_auc`` is ``None`` (absent), not 0.5."""
    out: dict[str, float | None] = {
        "auc": auc(pair_scores(item_embeddings, task.test_pos),
                   pair_scores(item_embeddings, task.test_neg)),
        "cold_auc": (auc(pair_scores(cold_embeddings, task.cold_pos),
                         pair_scores(cold_embeddings, task.cold_neg))
                     if cold_embeddings is not None and task.cold_pos.numel() else None),
    }
    out.update(evaluate_recall(CosineItemScorer(item_embeddings), task, ks))
    return out


def evaluate_recall(model, task: ItemEmbeddingTask, ks: tuple[int, ...] = (10,)
                    ) -> dict[str, float]:
    """HR@k and NDCG@k of a model with ``item_scorer()`` and ``device`` (a
    :class:`CosineItemScorer`, or a :class:`~graphrec.models.Recommender` such as
    popularity) from each recall user's query item, the user's training items masked:
    the one :class:`~graphrec.eval.item_to_item.ItemToItemEvaluator` with
    ``mask_history=True``."""
    device = model.device
    evaluator = ItemToItemEvaluator(task.query.to(device), ks=ks, metrics=("hit", "ndcg"),
                                    mask_history=True)
    result = evaluator.evaluate(model, task.target.to(device), exclude=task.train.to(device),
                                users=task.recall_users.to(device))
    return {f"{'hr' if name.startswith('hit') else 'ndcg'}@{name.split('@')[1]}": value
            for name, value in result.metrics.items()}
