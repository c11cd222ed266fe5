"""FunkSVD: biased matrix factorisation for explicit ratings, trained by the one Trainer."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender, clipped_predictions
from graphrec.models.registry import register
from graphrec.sampling.ratings import RatingBatch, RatingBatches


@register("funksvd")
class FunkSVD(Recommender):
    r"""Biased matrix factorisation of explicit ratings, as popularised by Simon Funk's
    Netflix Prize write-up (`"Netflix Update: Try This at Home"
    <https://sifter.org/~simon/journal/20061211.html>`_, 2006) and Koren, Bell and Volinsky
    (`"Matrix Factorization Techniques for Recommender Systems"
    <https://doi.org/10.1109/MC.2009.263>`_, IEEE Computer 2009); Surprise's ``SVD``:

    .. math::
        \hat r_{ui} = \mu + b_u + b_i + \mathbf{p}_u^\top \mathbf{q}_i

    with :math:`\mu` the mean training rating (fixed by :meth:`fit`), trained on

    .. math::
        \frac{1}{|B|} \sum_{(u,i,r) \in B} (r - \hat r_{ui})^2 + \lambda
        (b_u^2 + b_i^2 + \lVert \mathbf{p}_u \rVert^2 + \lVert \mathbf{q}_i \rVert^2)

    per mini-batch :math:`B` of ratings (:class:`~graphrec.sampling.ratings.RatingBatches`):
    Surprise's objective (its per-rating SGD step is this loss's gradient step for a batch
    of one, halved), so :math:`\lambda` means what Surprise's ``reg_all`` means. The
    optimiser is the :class:`~graphrec.train.Trainer`'s (Adam; see ``train_defaults``).

    :meth:`predict` clips to the training rating range (as Surprise's ``predict`` does by
    default); :meth:`scorer` ranks by the unclipped :math:`\hat r_{ui}`. Rating metrics:
    :class:`~graphrec.eval.ratings.RatingEvaluator`.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: factor size (Surprise's ``n_factors``, 100).
        reg_weight: :math:`\lambda` (Surprise's ``reg_all``; its 0.02 suits per-rating SGD,
            Adam needs more: 0.1 was best of 0.02-0.3 on the held-out 10 % of u1.base).
        init_std: factors start from :math:`\mathcal{N}(0, \sigma^2)` (Surprise's
            ``init_std_dev``); biases from 0.
        biased: with :math:`\mu, b_u, b_i` (``False``: :math:`\mathbf{p}_u^\top
            \mathbf{q}_i` only, :math:`\mu = 0`).
    """

    # Surprise's 20 epochs; Adam's lr, the batch size and reg_weight tuned on 10 % of u1.base
    # held out (docs/models.md). Nothing is selected on validation: a fixed number of
    # epochs, as Surprise.
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 3e-3, "batch_size": 1024, "epochs": 20, "patience": 0}
    selects_on_validation: ClassVar[bool] = False
    predicts_ratings: ClassVar[bool] = True

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 100,
        reg_weight: float = 0.1,
        init_std: float = 0.1,
        biased: bool = True,
    ) -> None:
        super().__init__()
        if embedding_dim < 0:
            raise ValueError(f"embedding_dim must be >= 0 (got {embedding_dim})")
        if reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0 (got {reg_weight})")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.reg_weight, self.init_std, self.biased = float(reg_weight), float(init_std), biased
        self.user_factors = nn.Embedding(num_users, embedding_dim)
        self.item_factors = nn.Embedding(num_items, embedding_dim)
        self.user_bias = nn.Embedding(num_users, 1)
        self.item_bias = nn.Embedding(num_items, 1)
        if not biased:
            self.user_bias.weight.requires_grad_(False)
            self.item_bias.weight.requires_grad_(False)
        self.register_buffer("global_mean", torch.zeros(()))
        self.register_buffer("rating_range", torch.tensor([float("-inf"), float("inf")]))
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> FunkSVD:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.user_factors.weight, std=self.init_std)
        nn.init.normal_(self.item_factors.weight, std=self.init_std)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def fit(self, train: Interactions) -> None:
        """Sets :math:`\\mu` (mean training rating) and the clipping range."""
        ratings = _ratings(train)
        with torch.no_grad():
            self.global_mean.fill_(float(ratings.mean()) if self.biased else 0.0)
            self.rating_range.copy_(torch.stack([ratings.min(), ratings.max()]).float())

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> Iterable[RatingBatch]:
        return RatingBatches(train, batch_size=batch_size, device=device, seed=seed)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """:math:`\\hat r_{ui}` (unclipped) for aligned ``users`` and ``items``."""
        dot = (self.user_factors(users) * self.item_factors(items)).sum(-1)
        return (self.global_mean + self.user_bias(users).squeeze(-1)
                + self.item_bias(items).squeeze(-1) + dot)

    def loss(self, batch: RatingBatch) -> Tensor:
        users, items = batch.users, batch.items
        user_f, item_f = self.user_factors(users), self.item_factors(items)
        user_b, item_b = self.user_bias(users).squeeze(-1), self.item_bias(items).squeeze(-1)
        predicted = self.global_mean + user_b + item_b + (user_f * item_f).sum(-1)
        error = (batch.ratings - predicted).pow(2).mean()
        if not self.reg_weight:
            return error
        squares = user_f.pow(2).sum(-1) + item_f.pow(2).sum(-1)
        if self.biased:
            squares = squares + user_b.pow(2) + item_b.pow(2)
        return error + self.reg_weight * squares.mean()

    @torch.no_grad()
    def predict(self, users: Tensor, items: Tensor, clip: bool = True) -> Tensor:
        """Predicted ratings of aligned ``(users, items)``; clipped to the training range
        seen by :meth:`fit` unless ``clip=False``."""
        return clipped_predictions(self, users, items, clip)

    def scorer(self) -> Callable[[Tensor], Tensor]:
        user_f, item_t = self.user_factors.weight, self.item_factors.weight.t()
        user_b, item_b = self.user_bias.weight.view(-1), self.item_bias.weight.view(1, -1)
        mean = self.global_mean

        def score(users: Tensor) -> Tensor:
            users = users.to(user_f.device)
            return (user_f[users] @ item_t + item_b) + (user_b[users] + mean).unsqueeze(1)

        return score

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Item-to-item scores: cosine similarity of the item factors :math:`q_i` (a new
        user known only by the items they rated is scored by the sum over those items:
        :meth:`score_histories`; their ratings are not known, so no user factor is fitted)."""
        factors = F.normalize(self.item_factors.weight, dim=-1)
        return lambda items: factors[items.to(factors.device)] @ factors.t()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, biased={self.biased})")


def _ratings(train: Interactions) -> Tensor:
    if train.edge_weight is None:
        raise ValueError("FunkSVD needs explicit ratings: train.edge_weight is None (load a "
                         "data set with ratings, e.g. movielens-100k)")
    if train.num_interactions == 0:
        raise ValueError("FunkSVD needs at least one training rating")
    return train.edge_weight.double()
