"""Factorization machines over user and item features: ratings (MSE) or implicit ranking
(BPR over FM scores); a DeepFM deep part as an option."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.feature_matrix import NUMERIC_ENCODINGS, FeatureMatrix, node_feature_matrix
from graphrec.graph.interactions import Interactions
from graphrec.models.base import Recommender, clipped_predictions
from graphrec.models.registry import register
from graphrec.nn.losses import bpr_loss
from graphrec.sampling.batches import PairBatch, PairBatches
from graphrec.sampling.ratings import RatingBatch, RatingBatches

TASKS = ("rating", "ranking")


def fm_pairwise(summed: Tensor, summed_squares: Tensor) -> Tensor:
    r"""The FM pairwise term from its two sums, :math:`O(k\,n)` (Rendle, ICDM 2010, Lemma 3.1):

    .. math::
        \sum_{j < l} \langle \mathbf{v}_j, \mathbf{v}_l \rangle x_j x_l
        = \tfrac12 \sum_{f=1}^{k} \Big[\big(\textstyle\sum_j v_{jf} x_j\big)^2
          - \textstyle\sum_j v_{jf}^2 x_j^2\Big]

    Args:
        summed: ``[..., k]`` :math:`\sum_j x_j \mathbf{v}_j`.
        summed_squares: ``[..., k]`` :math:`\sum_j x_j^2 \mathbf{v}_j^2`.
    """
    return 0.5 * (summed.pow(2) - summed_squares).sum(-1)


@register("fm")
class FM(Recommender):
    r"""Factorization machine, from `"Factorization Machines"
    <https://doi.org/10.1109/ICDM.2010.127>`_ (Rendle, ICDM 2010), on the input
    :math:`\mathbf{x} = [\mathbf{x}_u; \mathbf{x}_i]`: the user's row of the user feature
    matrix and the item's of the item feature matrix
    (:func:`~graphrec.graph.feature_matrix.node_feature_matrix`: identity, age bins, gender,
    occupation, genres, release-year bins, ...):

    .. math::
        \hat y(\mathbf{x}) = w_0 + \sum_j w_j x_j + \sum_{j < l}
        \langle \mathbf{v}_j, \mathbf{v}_l \rangle x_j x_l

    with the pairwise term in :math:`O(k\,n)` (:func:`fm_pairwise`). Splitting the sums into
    the user's and the item's parts, :math:`\hat y_{ui} = w_0 + a_u + a_i +
    \mathbf{s}_u^\top \mathbf{s}_i` (:math:`a` = linear + within-part pairwise terms,
    :math:`\mathbf{s}` = :math:`\sum_j x_j \mathbf{v}_j` of the part), so scoring every item
    for a user is one matrix product.

    ``task="rating"``: MSE on explicit ratings plus ``reg_weight`` times the batch's mean
    of :math:`\sum_j x_j (\lVert\mathbf{v}_j\rVert^2 + w_j^2)` over the active features
    (FunkSVD's objective for the identity-only input); :math:`w_0` is the mean training
    rating (:meth:`fit`) and :meth:`predict` clips to the training range.
    ``task="ranking"``: BPR over FM scores with sampled negatives, the same L2.

    ``deep_layers`` > 0 adds DeepFM's deep part (`Guo et al., IJCAI 2017
    <https://arxiv.org/abs/1703.04247>`_): an MLP (``deep_layers`` hidden layers of
    ``deep_width``, ReLU, ``dropout``) over the concatenated per-field embeddings
    :math:`\mathbf{e}_F = \sum_{j \in F} x_j \mathbf{v}_j` (shared with the FM part), its
    scalar output added to :math:`\hat y`.

    Args:
        user_features, item_features: the feature matrices (:meth:`from_graph`).
        embedding_dim: :math:`k`.
        task: ``"rating"`` or ``"ranking"``.
        reg_weight: L2 weight (see above).
        init_std: :math:`\mathbf{v}` start from :math:`\mathcal{N}(0, \sigma^2)`; :math:`w`
            from 0.
        deep_layers: hidden layers of the deep part (0: plain FM).
        deep_width: their width.
        dropout: dropout of the deep part's hidden layers.
    """

    # tuned on 10 % of u1.base held out (docs/models.md)
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 3e-3, "batch_size": 1024, "epochs": 20, "patience": 0}
    selects_on_validation: ClassVar[bool] = False

    def __init__(
        self,
        user_features: FeatureMatrix,
        item_features: FeatureMatrix,
        embedding_dim: int = 64,
        task: str = "rating",
        reg_weight: float = 0.1,
        init_std: float = 0.1,
        deep_layers: int = 0,
        deep_width: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} (got {task!r})")
        self.task = task
        self.predicts_ratings = task == "rating"  # RMSE/MAE in experiments
        self.num_users, self.num_items = user_features.num_rows, item_features.num_rows
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.reg_weight = check_number("reg_weight", reg_weight, low=0)
        self.init_std = check_number("init_std", init_std, low=0)
        self.dropout = check_number("dropout", dropout, low=0, high=1)
        self.deep_layers = check_number("deep_layers", deep_layers, integer=True, low=0)
        self.deep_width = check_number("deep_width", deep_width, integer=True, low=1)
        self.user_fields, self.item_fields = user_features.fields, item_features.fields
        self.num_user_columns = user_features.num_columns
        num_columns = user_features.num_columns + item_features.num_columns
        for prefix, matrix in (("user", user_features), ("item", item_features)):
            self.register_buffer(f"{prefix}_crow", matrix.crow, persistent=False)
            self.register_buffer(f"{prefix}_columns", matrix.columns, persistent=False)
            self.register_buffer(f"{prefix}_weights", matrix.weights, persistent=False)
            field_of = torch.zeros(matrix.num_columns, dtype=torch.long)
            for index, field in enumerate(matrix.fields):
                field_of[field.start:field.start + field.size] = index
            self.register_buffer(f"{prefix}_field_of", field_of, persistent=False)
        self.factors = nn.Embedding(num_columns, self.embedding_dim)
        self.linear = nn.Embedding(num_columns, 1)
        self.register_buffer("global_bias", torch.zeros(()))
        self.register_buffer("rating_range", torch.tensor([float("-inf"), float("inf")]))
        self.deep: nn.Sequential | None = None
        if self.deep_layers:  # DeepFM
            layers: list[nn.Module] = []
            width = (len(self.user_fields) + len(self.item_fields)) * self.embedding_dim
            for _ in range(self.deep_layers):
                layers += [nn.Linear(width, self.deep_width), nn.ReLU(),
                           nn.Dropout(self.dropout)]
                width = self.deep_width
            layers.append(nn.Linear(width, 1))
            self.deep = nn.Sequential(*layers)
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, identity: bool = True, use_features: bool = True,
                   numeric: str = "bins", num_bins: int = 10, **kwargs: Any) -> FM:
        """Builds the user and item feature matrices of ``train_graph`` (as
        :meth:`graphrec.models.hybrid.Hybrid.from_graph`) and the model on them."""
        if not identity and not use_features:
            raise ValueError("an FM needs identity=True or use_features=True")
        if numeric not in NUMERIC_ENCODINGS:
            raise ValueError(f"numeric must be one of {NUMERIC_ENCODINGS} (got {numeric!r})")
        matrices = [node_feature_matrix(train_graph, node_type, identity=identity,
                                        use_x=use_features, relations=None if use_features
                                        else [], numeric=numeric, num_bins=num_bins)
                    for node_type in (USER, ITEM)]
        return cls(*matrices, **kwargs)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.factors.weight, std=self.init_std)
        nn.init.zeros_(self.linear.weight)
        if self.deep is not None:
            for layer in self.deep:
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()

    def features(self, node_type: str) -> FeatureMatrix:
        prefix = {USER: "user", ITEM: "item"}[node_type]
        fields = self.user_fields if node_type == USER else self.item_fields
        return FeatureMatrix(getattr(self, f"{prefix}_crow"), getattr(self, f"{prefix}_columns"),
                             getattr(self, f"{prefix}_weights"),
                             sum(f.size for f in fields), fields)

    def part(self, node_type: str, rows: Tensor | None = None
             ) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        r"""One side's sums for ``rows`` (all when ``None``): ``(a [R], s [R, k], field
        embeddings [R, F*k] or None, L2 term [R])`` with :math:`a` = linear + within-side
        pairwise term, :math:`\mathbf{s} = \sum_j x_j \mathbf{v}_j`."""
        features = self.features(node_type)
        if rows is None:
            rows = torch.arange(features.num_rows, device=features.crow.device)
        columns, offsets, weights = features.gather(rows)
        shift = 0 if node_type == USER else self.num_user_columns
        table = self.factors.weight
        index = columns + shift
        summed = F.embedding_bag(index, table, offsets, mode="sum", per_sample_weights=weights)
        squares = F.embedding_bag(index, table.pow(2), offsets, mode="sum",
                                  per_sample_weights=weights.pow(2))
        linear = F.embedding_bag(index, self.linear.weight, offsets, mode="sum",
                                 per_sample_weights=weights).view(-1)
        norms = F.embedding_bag(index, torch.cat([table, self.linear.weight], 1).pow(2).sum(1,
                                keepdim=True), offsets, mode="sum",
                                per_sample_weights=weights.abs()).view(-1)
        field_emb = None
        if self.deep is not None:
            fields = self.user_fields if node_type == USER else self.item_fields
            field_of = getattr(self, f"{'user' if node_type == USER else 'item'}_field_of")
            bag = torch.repeat_interleave(torch.arange(rows.numel(), device=index.device),
                                          torch.diff(torch.cat([offsets, offsets.new_tensor(
                                              [columns.numel()])])))
            slot = bag * len(fields) + field_of[columns]
            field_emb = torch.zeros(rows.numel() * len(fields), self.embedding_dim,
                                    device=table.device, dtype=table.dtype)
            field_emb = field_emb.index_add(0, slot, table[index] * weights.unsqueeze(1))
            field_emb = field_emb.view(rows.numel(), -1)
        return linear + fm_pairwise(summed, squares), summed, field_emb, norms

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """:math:`\\hat y_{ui}` (unclipped) for aligned ``users`` and ``items``."""
        return self._score(users, items)[0]

    def _score(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        shape = items.shape
        user_a, user_s, user_f, user_n = self.part(USER, users)
        item_a, item_s, item_f, item_n = self.part(ITEM, items)
        item_s = item_s.view(*shape, -1)
        lead = (shape[0], *([1] * (len(shape) - 1)))
        score = (self.global_bias + user_a.view(lead) + item_a.view(shape)
                 + (user_s.view(*lead, -1) * item_s).sum(-1))
        if self.deep is not None:
            item_f = item_f.view(*shape, -1)
            user_f = user_f.view(*lead, -1).expand(*shape, -1)
            score = score + self.deep(torch.cat([user_f, item_f], -1)).squeeze(-1)
        return score, user_n.view(lead) + item_n.view(shape)

    def fit(self, train: Interactions) -> None:
        """Rating task: :math:`w_0` = the mean training rating, and the clipping range."""
        if self.task != "rating":
            return
        if train.edge_weight is None or train.num_interactions == 0:
            raise ValueError("an FM for ratings needs explicit training ratings "
                             "(train.edge_weight); use task='ranking' for implicit data")
        ratings = train.edge_weight.double()
        with torch.no_grad():
            self.global_bias.fill_(float(ratings.mean()))
            self.rating_range.copy_(torch.stack([ratings.min(), ratings.max()]).float())

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> Iterable[RatingBatch | PairBatch]:
        if self.task == "rating":
            return RatingBatches(train, batch_size=batch_size, device=device, seed=seed)
        return PairBatches(train, batch_size=batch_size, device=device, seed=seed)

    def loss(self, batch: RatingBatch | PairBatch) -> Tensor:
        if self.task == "rating":
            predicted, norms = self._score(batch.users, batch.items)
            loss = (batch.ratings - predicted).pow(2).mean()
        else:
            items = torch.stack([batch.pos_items, batch.neg_items.view(-1)], 1)
            scores, norms = self._score(batch.users, items)
            loss = bpr_loss(scores[:, 0], scores[:, 1])
        if self.reg_weight:
            loss = loss + self.reg_weight * norms.mean()
        return loss

    @torch.no_grad()
    def predict(self, users: Tensor, items: Tensor, clip: bool = True) -> Tensor:
        """Predicted ratings of aligned ``(users, items)``, clipped to the training range
        (rating task) unless ``clip=False``."""
        return clipped_predictions(self, users, items, clip)

    def scorer(self) -> Callable[[Tensor], Tensor]:
        if self.deep is not None:
            all_items = torch.arange(self.num_items, device=self.global_bias.device)

            def deep_score(users: Tensor) -> Tensor:
                users = users.to(all_items.device)
                rows = [self(users[start:start + 64].unsqueeze(1).expand(-1, self.num_items)
                             .reshape(-1), all_items.repeat(min(64, users.numel() - start)))
                        .view(-1, self.num_items) for start in range(0, users.numel(), 64)]
                return torch.cat(rows) if rows else torch.zeros(0, self.num_items,
                                                                device=all_items.device)

            return deep_score
        user_a, user_s, _, _ = self.part(USER)
        item_a, item_s, _, _ = self.part(ITEM)
        item_t = item_s.t().contiguous()
        bias = self.global_bias

        def score(users: Tensor) -> Tensor:
            users = users.to(user_s.device)
            return user_s[users] @ item_t + item_a + (user_a[users] + bias).unsqueeze(1)

        return score

    def item_scorer(self) -> Callable[[Tensor], Tensor]:
        r"""Item-to-item scores: cosine similarity of the items' factor sums
        :math:`\mathbf{s}_i` (new users known by their items are scored by the sum over
        those items: :meth:`score_histories`)."""
        _, item_s, _, _ = self.part(ITEM)
        factors = F.normalize(item_s, dim=-1)
        return lambda items: factors[items.to(factors.device)] @ factors.t()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, task={self.task!r}, "
                f"deep_layers={self.deep_layers})")
