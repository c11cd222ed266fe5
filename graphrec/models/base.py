"""The one interface every model implements, so one trainer and one evaluator serve all.

- ``train_batches(train, batch_size, device, seed)``: the batches the model trains on
  (pairwise BPR triples by default; a sequence model returns sequence batches). The
  trainer only iterates them.
- ``loss(batch) -> Tensor``: the training loss of one batch.
- ``pretraining()``: models to train before this one, each by the same trainer with its
  own settings (NeuMF's GMF and MLP parts); none by default.
- ``fit(train)``: closed-form fitting (popularity, ALS initialisations); called once by
  the trainer before any epoch. Models without trainable parameters are done after it.
- ``scorer() -> callable(users) -> [B, num_items]``: the evaluator's entry point; models
  precompute what all batches share (e.g. propagated embeddings) once per call.
- ``scorer_from(history)``: the same, given the interactions known at scoring time (the
  evaluator passes what it masks: training, plus validation at test time). Sequence models
  build each user's input sequence from it; the default ignores it and calls ``scorer()``.
- ``item_scorer() -> callable(items) -> [B, num_items]``: item-to-item scores, for
  related-item evaluation (optional).
- ``recommend(users, k, exclude=...)``: top-k items and scores, for people.
- ``score_histories(histories) -> [H, num_items]``: scores for new users known only by their
  items (fold-in): by default the sum of the history items' ``item_scorer`` rows; models
  with a better fold-in override it (MF: ridge regression, LightGCN: propagation to a new
  node, PinSAGE: the mean item embedding, sequence models: the history as input sequence).
- ``embeddings() -> (user_emb, item_emb)``: exported embeddings whose inner products are
  the scores (embedding models), for ``graphrec export``.
- ``save(directory, exclude=...)``: the trained model as an artifact that
  :func:`graphrec.load` reads back (:mod:`graphrec.models.saved`).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.graph.ranking import mask_interactions, topk_items
from graphrec.nn.losses import bpr_loss, l2_penalty, sampled_softmax_loss
from graphrec.sampling.batches import (
    PairBatch,
    PairBatches,
    SharedNegativeBatch,
    SharedNegativeBatches,
)


def check_sizes(num_users: int, num_items: int) -> tuple[int, int]:
    """``num_users`` and ``num_items`` as ints, each at least 1 (a model without users or
    items has nothing to rank)."""
    return (check_number("num_users", num_users, integer=True, low=1),
            check_number("num_items", num_items, integer=True, low=1))


class Recommender(nn.Module):
    """Base class of all graphrec models (see the module docstring for the interface).

    Class attributes a model declares (once, in its own file):

    - ``name``: its registry name (set by :func:`graphrec.models.registry.register`).
    - ``train_defaults``: the :class:`~graphrec.train.TrainConfig` fields it was measured
      with (learning rate, batch size, epochs, patience, ...); the CLI, ``run_experiment``
      and the examples start from them.
    - ``selects_on_validation``: ``False`` for models with nothing to select on validation
      (closed forms, popularity): the CLI then holds out no validation set for them.
    - ``default_split``: the split ``"auto"`` means for this model (``None``: the source's
      fixed split, else per-user random 80/10/10); sequence models use ``"loo"``.
    - ``predicts_ratings``: ``True`` for rating-prediction models (``predict(users, items)``):
      experiments report RMSE and MAE of the test ratings beside the ranking metrics (an
      instance may set it, e.g. the FM by its ``task``).

    ``from_graph(train_graph, **hyperparameters)`` builds a model for a training graph; the
    graph and the hyperparameters it was built with are kept as ``build_graph`` and
    ``build_arguments`` (what :meth:`save` writes).
    """

    name: ClassVar[str] = ""
    train_defaults: ClassVar[dict[str, Any]] = {}
    selects_on_validation: ClassVar[bool] = True
    default_split: ClassVar[str | None] = None
    predicts_ratings: ClassVar[bool] = False
    num_users: int
    num_items: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "from_graph" in vars(cls):  # remember what each model was built from
            build = vars(cls)["from_graph"].__func__

            @functools.wraps(build)
            def from_graph(klass, train_graph, **hyperparameters):
                model = build(klass, train_graph, **hyperparameters)
                # plain attributes (not buffers): the graph is saved by save(), not state_dict
                object.__setattr__(model, "build_graph", train_graph)
                object.__setattr__(model, "build_arguments", dict(hyperparameters))
                return model

            cls.from_graph = classmethod(from_graph)

    def pretraining(self) -> list[tuple[str, Recommender, dict[str, Any]]]:
        """``[(name, model, train_settings), ...]``: models the trainer trains first, in
        order, each with ``train_settings`` (``TrainConfig`` fields) over its own
        configuration and early-stopped on the same validation set, before it calls
        :meth:`fit` (they are usually parts of this model, e.g. NeuMF's GMF and MLP).
        None by default."""
        return []

    def fit(self, train: Interactions) -> None:
        """Closed-form part of training (none by default)."""

    def train_batches(
        self, train: Interactions, batch_size: int, device: torch.device | str, seed: int
    ) -> Iterable[Any]:
        return PairBatches(train, batch_size=batch_size, device=device, seed=seed)

    def loss(self, batch: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not trained by gradient descent")

    def scorer(self) -> Callable[[Tensor], Tensor]:
        raise NotImplementedError

    def scorer_from(
        self, history: Interactions | Sequence[Interactions] | None
    ) -> Callable[[Tensor], Tensor]:
        """The scorer given the interactions known when scoring (see the module docstring)."""
        return self.scorer()

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """``items -> [B, num_items]`` item-to-item scores (related items of a query item),
        for :class:`~graphrec.eval.item_to_item.ItemToItemEvaluator`."""
        raise NotImplementedError(f"{type(self).__name__} has no item-to-item scores")

    def score_histories(self, histories: Interactions) -> Tensor:
        """``[H, num_items]`` scores for ``H`` new users known only by their items.

        ``histories`` holds one "user" row per history (``num_users = H``; item indices of
        this model; ``edge_time`` / ``edge_order`` order the items where the model reads an
        order). The default is item-to-item: the sum of the history items'
        :meth:`item_scorer` rows (models without item-to-item scores raise
        ``NotImplementedError``). Called under ``torch.no_grad()`` in eval mode by
        :class:`~graphrec.models.saved.SavedModel`.
        """
        item_scores = self.item_scorer()
        rows, items = histories.to(self.device).rows(
            torch.arange(histories.num_users, device=self.device))
        scores = item_scores(items).float()
        return torch.zeros(histories.num_users, scores.size(1), device=scores.device,
                           dtype=scores.dtype).index_add_(0, rows.to(scores.device), scores)

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """``(user_emb [num_users, d], item_emb [num_items, d])`` whose inner products
        are the model's scores (what ``graphrec export`` writes)."""
        raise NotImplementedError(f"{type(self).__name__} has no user and item embeddings "
                                  "whose inner products are its scores")

    def save(self, directory: str | Path,
             exclude: Interactions | Sequence[Interactions] | None = None) -> Path:
        """Writes the trained model to ``directory`` (replaced atomically): its registry
        name, the hyperparameters and training graph it was built from, its weights, and
        ``exclude`` (extra known interactions, e.g. validation, to skip when recommending).
        Read it back with :func:`graphrec.load`; see :mod:`graphrec.models.saved`."""
        from graphrec.models.saved import save_model  # saved imports this module

        return save_model(self, directory, exclude=exclude)

    @property
    def device(self) -> torch.device:
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @torch.no_grad()
    def recommend(
        self,
        users: Tensor | Sequence[int],
        k: int = 10,
        exclude: Interactions | Sequence[Interactions] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Top-``k`` items for ``users``, best first, never an item in ``exclude``.

        Args:
            users: user indices (integers in ``[0, num_users)``; a tensor, array, list or
                single int). Floats are refused rather than truncated (``0.7`` is not user 0).
            k: how many items per user, a positive integer; it may exceed the number of
                items (see padding below).
            exclude: interactions whose items are never returned (e.g. the training ones).

        Returns:
            ``(items, scores)``, both ``[len(users), k]``. Where fewer than ``k`` items are
            left for a user (``k`` above the number of items, or most of them excluded), the
            row is padded at the end with item index ``-1`` and score ``-inf``; an excluded
            item never appears.

        Raises:
            ValueError: ``k`` is not a positive integer, ``users`` are not integers, or a
                user index is out of range.
        """
        k = check_number("k", k, integer=True, low=1)
        was_training = self.training
        self.eval()
        try:
            users = self._user_indices(users)
            scores = self.scorer_from(exclude)(users).float().clone()
            return topk_items(mask_interactions(scores, users, exclude), k)
        finally:
            self.train(was_training)


    def _user_indices(self, users: Tensor | Sequence[int] | int) -> Tensor:
        """``users`` as a flat ``long`` tensor on the model's device, checked: integer
        typed (no silent truncation of floats, no booleans) and in ``[0, num_users)``."""
        if isinstance(users, Tensor):
            dtype = users.dtype
            integer = not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)
            kind = str(dtype).removeprefix("torch.")
        else:
            array = np.asarray(users)
            if array.size == 0:
                array = array.astype(np.int64)
            integer = array.dtype.kind in "iu"
            kind = {"U": "str", "S": "bytes", "O": "object"}.get(array.dtype.kind,
                                                                 str(array.dtype))
            users = torch.from_numpy(array.astype(np.int64)) if integer else array
        if not integer:
            raise ValueError(f"users must be integer user indices (got {kind} values); "
                             "convert ids with the graph's id_map, not by rounding")
        users = users.to(device=self.device, dtype=torch.long).view(-1)
        if users.numel() and (int(users.min()) < 0 or int(users.max()) >= self.num_users):
            bad = users[(users < 0) | (users >= self.num_users)][0]
            raise ValueError(f"user index {int(bad)} out of range [0, {self.num_users})")
        return users


class EmbeddingRecommender(Recommender):
    r"""Models that score by :math:`\hat y_{ui} = \mathbf{u}_u^\top \mathbf{v}_i` with
    ``forward() -> (user_emb, item_emb)``, plus LightGCN's L2 penalty on the batch's ego
    (layer-0) embeddings.

    Subclasses implement ``forward`` (ending with :meth:`output`) and
    ``ego_embeddings(users, items)``.

    Two training objectives (``loss``):

    - ``"bpr"`` (the papers' setup): :math:`-\ln \sigma(\hat y_{ui} - \hat y_{uj})` for one
      uniformly drawn non-interacted item :math:`j` per training pair (``num_negatives``
      per pair, default 1), scores are inner products.
    - ``"sampled_softmax"``: sampled softmax over cosine similarities (Wu et al., "On the
      Effectiveness of Sampled Softmax Loss for Item Recommendation", TOIS 2024,
      https://arxiv.org/abs/2201.02327). Each batch of :math:`B` pairs shares
      :math:`N` = ``num_negatives`` items drawn uniformly from the catalogue
      (:class:`~graphrec.sampling.batches.SharedNegativeBatches`, default 1024), and

      .. math::
          \mathcal{L} = -\frac{1}{B}\sum_{(u,i)} \ln
          \frac{e^{\cos(\mathbf{u}, \mathbf{v}_i)/\tau}}
                {e^{\cos(\mathbf{u}, \mathbf{v}_i)/\tau} +
                 \sum_{j=1}^{N} e^{\cos(\mathbf{u}, \mathbf{v}_j)/\tau}}

      With ``in_batch`` the other rows' positives join the candidates too (mixed negative
      sampling, Yang et al. 2020): popularity samples, harder than uniform ones, and
      free (their embeddings are computed anyway). With ``logq`` every logit is
      corrected by :math:`-\log q_j`, the log expected number of draws of candidate
      :math:`j` (:class:`~graphrec.sampling.batches.SharedNegativeBatch`), so the sampled
      softmax estimates the full one instead of penalising popular items (Yi et al.,
      RecSys 2019). Candidates equal to the row's positive are removed (accidental hits).
      This is :func:`~graphrec.nn.losses.sampled_softmax_loss`. One propagation then
      trains against :math:`B + N` negatives per pair instead of one, which is what
      makes large batches converge in few epochs. The model then scores by cosine similarity:
      :meth:`output` L2-normalises the final embeddings, so ``forward``, ``recommend``,
      the evaluator and exported embeddings all rank by the trained similarity.

      ``similarity="dot"`` replaces :math:`\cos(\mathbf{u}, \mathbf{v})` by the inner
      product :math:`\mathbf{u}^\top\mathbf{v}` (the softmax of Covington et al. and of Wu
      et al.'s un-normalised variant): the embeddings are not normalised and their norms
      carry popularity and confidence, which the reg_weight penalty keeps in check. On
      Gowalla's validation carve-out it beat the cosine form for LightGCN
      (docs/performance.md).

    Args:
        reg_weight: weight :math:`\lambda` of :math:`\frac{\lambda}{2B}
            (\lVert \mathbf{e}_u\rVert^2 + \lVert \mathbf{e}_{i^+}\rVert^2 +
            \lVert \mathbf{e}_{i^-}\rVert^2)` (softmax: the user and positive rows only).
        loss: ``"bpr"`` or ``"sampled_softmax"``.
        num_negatives: negatives per training pair (bpr) or per batch (softmax);
            ``None``: 1 (bpr), 1024 (softmax).
        temperature: :math:`\tau` of the softmax (ignored by bpr).
        in_batch: the batch's other positives are candidates too (softmax).
        logq: logQ-correct every candidate's logit (softmax with ``in_batch``; uniform
            negatives alone need no correction).
        similarity: ``"cosine"`` or ``"dot"``: the softmax's score, and then the model's
            (ignored by bpr, whose scores are inner products).
    """

    SIMILARITIES: ClassVar[tuple[str, ...]] = ("cosine", "dot")

    LOSSES: ClassVar[tuple[str, ...]] = ("bpr", "sampled_softmax")

    def __init__(self, num_users: int, num_items: int, reg_weight: float = 1e-4,
                 loss: str = "bpr", num_negatives: int | None = None,
                 temperature: float = 0.1, in_batch: bool = True, logq: bool = True,
                 similarity: str = "cosine") -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        self.reg_weight = check_number("reg_weight", reg_weight, low=0)
        if loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, self.LOSSES))} "
                             f"(got {loss!r})")
        self.loss_name = loss
        if num_negatives is None:
            num_negatives = 1 if loss == "bpr" else 1024
        self.num_negatives = check_number("num_negatives", num_negatives, integer=True, low=1)
        self.temperature = check_number("temperature", temperature, low=0, low_open=True)
        self.in_batch = bool(in_batch)
        self.logq = bool(logq)
        if similarity not in self.SIMILARITIES:
            raise ValueError(f"similarity must be one of "
                             f"{', '.join(map(repr, self.SIMILARITIES))} (got {similarity!r})")
        self.similarity = similarity

    @property
    def cosine(self) -> bool:
        """Whether scores are cosine similarities (the softmax objective with
        ``similarity="cosine"``)."""
        return self.loss_name == "sampled_softmax" and self.similarity == "cosine"

    def output(self, user_emb: Tensor, item_emb: Tensor) -> tuple[Tensor, Tensor]:
        """The final embeddings whose inner products are the scores: L2-normalised under the
        softmax objective (cosine scores), unchanged under bpr. ``forward`` ends with it."""
        if self.cosine:
            return F.normalize(user_emb, dim=-1), F.normalize(item_emb, dim=-1)
        return user_emb, item_emb

    def forward(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def ego_embeddings(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def embed(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        """Final embeddings of the given users and items (any shapes; indexed like tensors).

        The default computes everything with ``forward()``; models whose per-node head is
        costly override it to run the head on these rows only.
        """
        user_emb, item_emb = self()
        return user_emb[users], item_emb[items]

    def train_batches(
        self, train: Interactions, batch_size: int, device: torch.device | str, seed: int
    ) -> Iterable[Any]:
        if self.loss_name == "sampled_softmax":
            return SharedNegativeBatches(train, batch_size=batch_size,
                                         num_negatives=self.num_negatives, device=device,
                                         seed=seed)
        return PairBatches(train, batch_size=batch_size, num_negatives=self.num_negatives,
                           device=device, seed=seed)

    def loss(self, batch: PairBatch | SharedNegativeBatch) -> Tensor:
        if isinstance(batch, SharedNegativeBatch):
            return self._softmax_loss(batch)
        items = torch.cat([batch.pos_items, batch.neg_items.reshape(-1)])
        users, item_rows = self.embed(batch.users, items)
        pos_scores = (users * item_rows[: len(batch)]).sum(-1)
        neg = item_rows[len(batch):].view(*batch.neg_items.shape, -1)
        # [B, d] x [B, K, d] -> [B, K] for K negatives per positive, [B] for one
        neg_scores = ((users.unsqueeze(-2) if neg.dim() == 3 else users) * neg).sum(-1)
        loss = bpr_loss(pos_scores, neg_scores)
        if self.reg_weight:
            ego_users, ego_items = self.ego_embeddings(batch.users, items)
            loss = loss + self.reg_weight * l2_penalty(ego_users, ego_items,
                                                       batch_size=len(batch))
        return loss

    def _softmax_loss(self, batch: SharedNegativeBatch) -> Tensor:
        size = len(batch)
        items = torch.cat([batch.pos_items, batch.neg_items])
        users, item_rows = self.embed(batch.users, items)  # cosine: normalised by output()
        # without in-batch candidates every negative is uniform: one constant log q, which
        # cancels (the positive is the row's own, not a sampled candidate)
        log_q = ({"log_q_positive": batch.pos_log_q, "log_q_negative": batch.neg_log_q}
                 if self.logq and self.in_batch else {})
        loss = sampled_softmax_loss(users, item_rows[:size], item_rows[size:],
                                    temperature=self.temperature, positive_ids=batch.pos_items,
                                    negative_ids=batch.neg_items, in_batch=self.in_batch,
                                    **log_q)
        if self.reg_weight:
            ego_users, ego_items = self.ego_embeddings(batch.users, batch.pos_items)
            loss = loss + self.reg_weight * l2_penalty(ego_users, ego_items, batch_size=size)
        return loss

    def scorer(self) -> Callable[[Tensor], Tensor]:
        user_emb, item_emb = self()
        item_t = item_emb.t().contiguous()
        return lambda users: user_emb[users.to(user_emb.device)] @ item_t

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """``forward()`` (call it in eval mode: that is what the scores use)."""
        return self()

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Inner products of the final item embeddings."""
        _, item_emb = self()
        item_t = item_emb.t().contiguous()
        return lambda items: item_emb[items.to(item_emb.device)] @ item_t


def clipped_predictions(model: Recommender, users: Tensor, items: Tensor, clip: bool) -> Tensor:
    """``model(users, items)`` on the device of its ``rating_range`` buffer (the training
    ratings' ``[min, max]``, set by ``fit``), clipped to that range unless ``clip=False``: the
    ``predict`` of the rating models (FunkSVD, FM), as Surprise's ``predict`` clips."""
    device = model.rating_range.device
    with torch.no_grad():
        predicted = model(torch.as_tensor(users, device=device),
                          torch.as_tensor(items, device=device))
    if clip:
        predicted = predicted.clamp(float(model.rating_range[0]), float(model.rating_range[1]))
    return predicted
