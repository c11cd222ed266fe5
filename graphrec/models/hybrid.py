"""Hybrid matrix factorisation (LightFM): users and items as sums of their features'
embeddings, trained with WARP, k-OS WARP, BPR or a logistic loss."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.feature_matrix import NUMERIC_ENCODINGS, FeatureMatrix, node_feature_matrix
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender
from graphrec.models.registry import register
from graphrec.nn.losses import bpr_loss, log_loss, warp_loss
from graphrec.sampling.warp import WarpBatch, WarpBatches, first_violation

LOSSES = ("warp", "kos_warp", "bpr", "logistic")


@register("hybrid")
class Hybrid(Recommender):
    r"""Hybrid matrix factorisation, from `"Metadata Embeddings for User and Item Cold-start
    Recommendations" <https://arxiv.org/abs/1507.08439>`_ (Kula, CBRecSys 2015; the LightFM
    library). A user :math:`u` with feature weights :math:`x_{uf}` (a row of a
    :class:`~graphrec.graph.feature_matrix.FeatureMatrix`: identity, age bin, gender,
    occupation, ...) and an item :math:`i` with :math:`x_{ig}` are

    .. math::
        \mathbf{p}_u = \sum_f x_{uf}\,\mathbf{e}^U_f, \quad b_u = \sum_f x_{uf}\,b^U_f,
        \qquad \mathbf{q}_i = \sum_g x_{ig}\,\mathbf{e}^I_g, \quad b_i = \sum_g x_{ig}\,b^I_g,

    scored :math:`\hat y_{ui} = \mathbf{p}_u^\top \mathbf{q}_i + b_u + b_i`. With the
    identity field only it is biased MF; without it (``identity=False``) every user and item
    is known by its features alone, so new ones are scored as well as known ones.

    Losses (``loss``), per training interaction :math:`(u, i)` of a batch
    (:class:`~graphrec.sampling.warp.WarpBatches`: ``max_sampled`` uniformly drawn
    candidates per row, training items of :math:`u` excluded):

    * ``"warp"``: the first candidate :math:`j` with :math:`1 + \hat y_{uj} - \hat y_{ui}
      > 0` after :math:`T` draws gives the rank estimate :math:`\lfloor (N-1)/T \rfloor`
      and the hinge weight :math:`\sum_{k \le r} 1/k`
      (:func:`~graphrec.sampling.warp.first_violation`, :func:`~graphrec.nn.losses.warp_loss`);
    * ``"kos_warp"``: the positive is the ``kos_k``-th best scored of ``kos_n`` items drawn
      from :math:`u`'s training items, then WARP;
    * ``"bpr"``: :math:`-\ln\sigma(\hat y_{ui} - \hat y_{uj})` with :math:`j` the first valid
      candidate;
    * ``"logistic"``: :math:`-\ln\sigma(\hat y_{ui}) - \ln\sigma(-\hat y_{uj})`.

    plus ``reg_weight`` times the batch's mean squared norms of :math:`\mathbf{p}_u,
    \mathbf{q}_i, \mathbf{q}_j` (LightFM's ``user_alpha`` / ``item_alpha`` act on the
    feature embeddings instead; 0 by default there too).

    Args:
        user_features, item_features: the feature matrices (:meth:`from_graph` builds them
            from the graph with :func:`~graphrec.graph.feature_matrix.node_feature_matrix`).
        embedding_dim: :math:`d` (LightFM's ``no_components``).
        loss: one of ``"warp"``, ``"kos_warp"``, ``"bpr"``, ``"logistic"``.
        max_sampled: candidates per row (LightFM's ``max_sampled``).
        margin: the WARP hinge margin.
        kos_k, kos_n: k-OS WARP's :math:`k` and :math:`n` (LightFM's ``k`` and ``n``).
        reg_weight: L2 weight on the batch's representations.
        init_scale: embeddings start uniform in :math:`[-s/d, s/d]` (LightFM: ``s = 0.5``);
            biases at 0.
    """

    # measured on MovieLens-100K ua (docs/models.md): with Adam, 16 dimensions at 5e-3 beat
    # 10 or 32 dimensions and 1e-2 / 3e-3 on LightFM's protocol (training items left
    # rankable), where longer training memorises the training items: 8 epochs (7 / 10 / 13
    # gave 0.112 / 0.110 / 0.110 precision@10 over three seeds, 8 gave 0.112 with the
    # smallest spread)
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 5e-3, "batch_size": 1024, "epochs": 8, "eval_every": 1, "patience": 0}

    def __init__(
        self,
        user_features: FeatureMatrix,
        item_features: FeatureMatrix,
        embedding_dim: int = 16,
        loss: str = "warp",
        max_sampled: int = 10,
        margin: float = 1.0,
        kos_k: int = 5,
        kos_n: int = 10,
        reg_weight: float = 0.0,
        init_scale: float = 0.5,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES} (got {loss!r})")
        self.num_users, self.num_items = user_features.num_rows, item_features.num_rows
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.loss_name = loss
        self.max_sampled = check_number("max_sampled", max_sampled, integer=True, low=1)
        self.margin = check_number("margin", margin, low=0)
        self.kos_k = check_number("kos_k", kos_k, integer=True, low=1)
        self.kos_n = check_number("kos_n", kos_n, integer=True, low=1)
        if self.kos_k > self.kos_n:
            raise ValueError(f"kos_k must be at most kos_n (got {kos_k} > {kos_n})")
        self.reg_weight = check_number("reg_weight", reg_weight, low=0)
        self.init_scale = check_number("init_scale", init_scale, low=0, low_open=True)
        self.user_fields, self.item_fields = user_features.fields, item_features.fields
        for prefix, matrix in (("user", user_features), ("item", item_features)):
            # buffers (not saved: the model is rebuilt from its graph) so .to(device) moves them
            self.register_buffer(f"{prefix}_crow", matrix.crow, persistent=False)
            self.register_buffer(f"{prefix}_columns", matrix.columns, persistent=False)
            self.register_buffer(f"{prefix}_weights", matrix.weights, persistent=False)
        self.user_embedding = nn.EmbeddingBag(user_features.num_columns, self.embedding_dim,
                                              mode="sum")
        self.item_embedding = nn.EmbeddingBag(item_features.num_columns, self.embedding_dim,
                                              mode="sum")
        self.user_bias = nn.EmbeddingBag(user_features.num_columns, 1, mode="sum")
        self.item_bias = nn.EmbeddingBag(item_features.num_columns, 1, mode="sum")
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, identity: bool = True, use_features: bool = True,
                   numeric: str = "bins", num_bins: int = 10, **kwargs: Any) -> Hybrid:
        """Builds the feature matrices of ``train_graph``'s users and items
        (:func:`~graphrec.graph.feature_matrix.node_feature_matrix`: ``identity`` field,
        ``x`` columns and side relations when ``use_features``; numeric fields by
        ``numeric`` with ``num_bins``) and the model on them."""
        if not identity and not use_features:
            raise ValueError("a hybrid model needs identity=True or use_features=True")
        if numeric not in NUMERIC_ENCODINGS:
            raise ValueError(f"numeric must be one of {NUMERIC_ENCODINGS} (got {numeric!r})")
        matrices = [node_feature_matrix(train_graph, node_type, identity=identity,
                                        use_x=use_features, relations=None if use_features
                                        else [], numeric=numeric, num_bins=num_bins)
                    for node_type in (USER, ITEM)]
        return cls(*matrices, **kwargs)

    def reset_parameters(self) -> None:
        bound = self.init_scale / self.embedding_dim
        nn.init.uniform_(self.user_embedding.weight, -bound, bound)
        nn.init.uniform_(self.item_embedding.weight, -bound, bound)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def features(self, node_type: str) -> FeatureMatrix:
        """The model's feature matrix of ``'user'`` or ``'item'``."""
        prefix = {USER: "user", ITEM: "item"}[node_type]
        fields = self.user_fields if node_type == USER else self.item_fields
        return FeatureMatrix(getattr(self, f"{prefix}_crow"), getattr(self, f"{prefix}_columns"),
                             getattr(self, f"{prefix}_weights"),
                             sum(f.size for f in fields), fields)

    def represent(self, node_type: str, rows: Tensor | None = None,
                  features: FeatureMatrix | None = None) -> tuple[Tensor, Tensor]:
        r"""``(representations [R, d], biases [R])`` of ``rows`` (any shape, flattened; all
        rows when ``None``) of ``features`` (default: the model's own matrix; pass a matrix
        of new users or items with the same columns to score them cold)."""
        features = features if features is not None else self.features(node_type)
        if rows is None:
            rows = torch.arange(features.num_rows, device=features.crow.device)
        columns, offsets, weights = features.gather(rows)
        embedding, bias = ((self.user_embedding, self.user_bias) if node_type == USER
                           else (self.item_embedding, self.item_bias))
        return (embedding(columns, offsets, per_sample_weights=weights),
                bias(columns, offsets, per_sample_weights=weights).view(-1))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """:math:`\\hat y_{ui}` for ``users [B]`` and ``items [B, ...]`` (broadcast per row)."""
        user_rep, user_bias = self.represent(USER, users)
        item_rep, item_bias = self.represent(ITEM, items)
        shape = items.shape
        item_rep = item_rep.view(*shape, -1)
        user_rep = user_rep.view(shape[0], *([1] * (len(shape) - 1)), -1)
        bias = user_bias.view(shape[0], *([1] * (len(shape) - 1)))
        return (user_rep * item_rep).sum(-1) + bias + item_bias.view(shape)

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> Iterable[WarpBatch]:
        return WarpBatches(train, batch_size=batch_size, max_sampled=self.max_sampled,
                           num_positives=self.kos_n if self.loss_name == "kos_warp" else 0,
                           device=device, seed=seed)

    def loss(self, batch: WarpBatch) -> Tensor:
        users = batch.users
        user_rep, user_bias = self.represent(USER, users)
        positives = batch.pos_items
        if self.loss_name == "kos_warp":
            if batch.positive_pool is None:
                raise ValueError("k-OS WARP needs batches with a positive_pool")
            with torch.no_grad():  # choosing the positive is not differentiated
                pool_scores = self(users, batch.positive_pool)
                kth = pool_scores.topk(min(self.kos_k, pool_scores.size(1)), dim=1).indices[:, -1]
            positives = batch.positive_pool.gather(1, kth.unsqueeze(1)).squeeze(1)
        items = torch.cat([positives.unsqueeze(1), batch.candidates], 1)
        item_rep, item_bias = self.represent(ITEM, items)
        item_rep = item_rep.view(*items.shape, -1)
        scores = (user_rep.unsqueeze(1) * item_rep).sum(-1) + item_bias.view(items.shape) \
            + user_bias.unsqueeze(1)
        pos_scores, candidate_scores = scores[:, 0], scores[:, 1:]
        rows = torch.arange(len(batch), device=users.device)
        if self.loss_name in ("warp", "kos_warp"):
            with torch.no_grad():
                found = first_violation(pos_scores, candidate_scores, batch.candidate_valid,
                                        self.num_items, self.margin)
            column, weight = found.column, found.weight
            loss = warp_loss(pos_scores, candidate_scores[rows, column], weight, self.margin)
        else:
            valid = batch.candidate_valid
            column = valid.to(torch.uint8).argmax(1)  # the first valid candidate
            weight = valid.any(1).float()
            neg_scores = candidate_scores[rows, column]
            if self.loss_name == "bpr":
                loss = (bpr_loss(pos_scores, neg_scores) if bool(weight.all()) else
                        -(torch.nn.functional.logsigmoid(pos_scores - neg_scores)
                          * weight).mean())
            else:
                loss = log_loss(pos_scores, neg_scores, weight)
        if self.reg_weight:
            negative = item_rep[rows, column + 1]
            loss = loss + self.reg_weight * (user_rep.pow(2).sum(-1) + item_rep[:, 0].pow(2)
                                             .sum(-1) + negative.pow(2).sum(-1)).mean()
        return loss

    def scorer(self) -> Callable[[Tensor], Tensor]:
        user_rep, user_bias = self.represent(USER)
        item_rep, item_bias = self.represent(ITEM)
        item_t = item_rep.t().contiguous()

        def score(users: Tensor) -> Tensor:
            users = users.to(user_rep.device)
            return user_rep[users] @ item_t + item_bias + user_bias[users].unsqueeze(1)

        return score

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        """Item-to-item scores: inner products of the item representations."""
        item_rep, _ = self.represent(ITEM)
        item_t = item_rep.t().contiguous()
        return lambda items: item_rep[items.to(item_rep.device)] @ item_t

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """``([p_u, b_u, 1], [q_i, 1, b_i])``: inner products are the scores."""
        user_rep, user_bias = self.represent(USER)
        item_rep, item_bias = self.represent(ITEM)
        ones_u, ones_i = torch.ones_like(user_bias), torch.ones_like(item_bias)
        return (torch.cat([user_rep, user_bias.unsqueeze(1), ones_u.unsqueeze(1)], 1),
                torch.cat([item_rep, ones_i.unsqueeze(1), item_bias.unsqueeze(1)], 1))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, loss={self.loss_name!r}, "
                f"user_fields={[f.name for f in self.user_fields]}, "
                f"item_fields={[f.name for f in self.item_fields]})")
