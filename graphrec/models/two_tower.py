"""Two-tower retrieval with in-batch sampled softmax and the logQ correction."""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.feature_matrix import NUMERIC_ENCODINGS, FeatureMatrix, node_feature_matrix
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING, Sequences
from graphrec.models.registry import register
from graphrec.models.sequential import SequentialRecommender
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.nn.losses import sampled_softmax_loss
from graphrec.sampling.frequency import FrequencyEstimator
from graphrec.sampling.sequence_batches import SequenceBatch, SequenceBatches

#: Where extra (non-in-batch) negatives come from.
NEGATIVES = ("uniform", "frequency")


class SENet(nn.Module):
    r"""Squeeze-and-excitation gating over ``F`` feature fields (Hu et al., CVPR 2018,
    https://arxiv.org/abs/1709.01507; FiBiNET's field form, Huang et al., RecSys 2019,
    https://arxiv.org/abs/1905.09433):

    .. math::
        z_f = \frac{1}{d}\sum_k x_{f,k}, \qquad
        \mathbf{a} = \sigma(\mathbf{W}_2\,\mathrm{ReLU}(\mathbf{W}_1 \mathbf{z})), \qquad
        \mathbf{x}'_f = a_f\,\mathbf{x}_f .

    Args:
        num_fields: :math:`F`.
        reduction: hidden width :math:`\max(1, F / r)` of the excitation.

    Shapes:
        - input ``[*, F, d]`` → output ``[*, F, d]``.
    """

    def __init__(self, num_fields: int, reduction: int = 2) -> None:
        super().__init__()
        self.num_fields = num_fields
        hidden = max(1, num_fields // reduction)
        self.squeeze = nn.Linear(num_fields, hidden)
        self.excite = nn.Linear(hidden, num_fields)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.squeeze.reset_parameters()
        self.excite.reset_parameters()

    def forward(self, fields: Tensor) -> Tensor:
        weights = torch.sigmoid(self.excite(F.relu(self.squeeze(fields.mean(-1)))))
        return fields * weights.unsqueeze(-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.num_fields})"


class FieldEmbedding(nn.Module):
    r"""One embedding per feature field of the rows of a
    :class:`~graphrec.graph.feature_matrix.FeatureMatrix` (the shared feature builder of the
    hybrid models): for row :math:`v` and field :math:`f` with columns :math:`C_f`,

    .. math::
        \mathbf{x}_{v,f} = \textstyle\sum_{c \in C_f} x_{vc}\,\mathbf{w}_c

    (the matrix's weights: 1 for a category, :math:`1/n` over a multi-hot row's :math:`n`
    values, a numeric field's bin or bumps). A row without an entry in a field gets zeros
    there.

    Args:
        features: the matrix (kept as non-persistent buffers: a saved model rebuilds it
            from its graph).
        embedding_dim: :math:`d`.
        init_std: standard deviation of the normal initialisation of :math:`\mathbf{W}`.

    Shapes:
        - input ``rows`` of any shape ``S`` → output ``[*S, F, d]``.
    """

    def __init__(self, features: FeatureMatrix, embedding_dim: int, init_std: float = 0.1
                 ) -> None:
        super().__init__()
        self.fields = features.fields
        self.num_fields = len(features.fields)
        self.num_rows = features.num_rows
        self.embedding_dim = embedding_dim
        self.init_std = init_std
        field_of = torch.empty(features.num_columns, dtype=torch.long)
        for index, found in enumerate(features.fields):
            field_of[found.start:found.start + found.size] = index
        self.register_buffer("crow", features.crow, persistent=False)
        self.register_buffer("columns", features.columns, persistent=False)
        self.register_buffer("weights", features.weights, persistent=False)
        self.register_buffer("field_of", field_of, persistent=False)
        self.table = nn.Embedding(features.num_columns, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.table.weight, std=self.init_std)

    def forward(self, rows: Tensor) -> Tensor:
        flat = rows.reshape(-1).to(self.crow.device)
        start = self.crow[flat]
        count = self.crow[flat + 1] - start
        bag = torch.repeat_interleave(torch.arange(flat.numel(), device=flat.device), count)
        first = torch.cumsum(count, 0) - count
        position = start[bag] + torch.arange(bag.numel(), device=flat.device) - first[bag]
        columns = self.columns[position]
        values = self.table(columns) * self.weights[position].unsqueeze(-1)
        out = values.new_zeros(flat.numel() * self.num_fields, self.embedding_dim)
        out.index_add_(0, bag * self.num_fields + self.field_of[columns], values)
        return out.view(*rows.shape, self.num_fields, self.embedding_dim)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_rows}, fields="
                f"{[f.name for f in self.fields]}, embedding_dim={self.embedding_dim})")


def example_ages(times: Tensor, latest: float, span: float) -> Tensor:
    r"""Covington et al.'s "example age" of training examples at ``times``:
    :math:`a = (t_{\max} - t) / (t_{\max} - t_{\min})` in :math:`[0, 1]` over the training
    period (``latest`` :math:`= t_{\max}`, ``span`` :math:`= t_{\max} - t_{\min}`, 1 when
    0), fed to the tower as :math:`[a, a^2, \sqrt{a}]` (the paper's powers of a normalised
    continuous feature). Serving sets :math:`a = 0`: the model is asked about the end of
    the training window, where its popularity estimates are the freshest."""
    age = ((latest - times.double()) / (span if span > 0 else 1.0)).clamp(0, 1).float()
    return torch.stack([age, age * age, age.sqrt()], dim=-1)


@dataclass
class AgedSequenceBatch(SequenceBatch):
    """A :class:`~graphrec.sampling.sequence_batches.SequenceBatch` with the example age
    ``[B, T, 3]`` of every target (0 at padding)."""

    ages: Tensor | None = None

    def to(self, device: torch.device | str) -> AgedSequenceBatch:
        return AgedSequenceBatch(*(None if getattr(self, f.name) is None
                                   else getattr(self, f.name).to(device)
                                   for f in fields(self)))


class AgedSequenceBatches:
    """:class:`~graphrec.sampling.sequence_batches.SequenceBatches` whose batches carry
    each target's example age (:func:`example_ages` of its raw timestamp over the training
    interactions' range)."""

    def __init__(self, batches: SequenceBatches, train: Interactions) -> None:
        self.batches = batches
        device = batches.users.device
        sequences = Sequences.from_interactions(train.to(device))
        times = sequences.times
        latest, earliest = float(times.max()), float(times.min())
        target_times = sequences.window(batches.users, batches.maxlen, values=times)
        ages = example_ages(target_times, latest, latest - earliest)
        self.ages = ages.masked_fill((batches.targets == PADDING).unsqueeze(-1), 0.0)
        self.row_of = torch.full((train.num_users,), -1, dtype=torch.long, device=device)
        self.row_of[batches.users] = torch.arange(batches.users.numel(), device=device)

    def __len__(self) -> int:
        return len(self.batches)

    def __getattr__(self, name: str) -> Any:  # generator, maxlen, ... of the wrapped batches
        if name == "batches":
            raise AttributeError(name)
        return getattr(self.batches, name)

    def __iter__(self) -> Iterator[AgedSequenceBatch]:
        for batch in self.batches:
            width = batch.targets.size(1)
            ages = self.ages[self.row_of[batch.users], -width:]
            yield AgedSequenceBatch(*(getattr(batch, f.name) for f in fields(batch)),
                                    ages=ages)


def mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]``, ReLU and dropout between them."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


@register("two_tower")
class TwoTower(SequentialRecommender):
    r"""Two-tower retrieval, from `"Sampling-Bias-Corrected Neural Modeling for Large Corpus
    Item Recommendations" <https://doi.org/10.1145/3298689.3346996>`_ (Yi et al., RecSys
    2019).

    User tower over the history :math:`s_1, \dots, s_t` (at every position :math:`t` of the
    training window, so each next item is one example) and the user's feature fields
    :math:`\mathbf{x}_{u,1..F_u}`; item tower over the item's id and its feature fields:

    .. math::
        \mathbf{z}_t = [\tfrac{1}{t}\textstyle\sum_{\tau \le t} \mathbf{e}_{s_\tau};\;
        \mathbf{e}_{s_t};\; \mathbf{x}_{u,1};\dots;\mathbf{x}_{u,F_u}], \qquad
        \mathbf{u}_t = \frac{\mathrm{MLP}_u([\mathrm{SENet}_u(\mathbf{z}_t);\,
        \mathbf{a}_t])}{\lVert \cdot \rVert_2}, \qquad
        \mathbf{v}_j = \frac{\mathrm{MLP}_v(\mathrm{SENet}_v([\mathbf{e}_j;\;
        \mathbf{x}_{j,1};\dots;\mathbf{x}_{j,F_v}]))}{\lVert \cdot \rVert_2},

    with :math:`\mathbf{E}` the shared :class:`~graphrec.nn.ItemEmbedding`, the feature
    fields :class:`FieldEmbedding` s of the shared feature builder
    (:func:`~graphrec.graph.feature_matrix.node_feature_matrix`: MovieLens's age bin,
    gender, occupation, zip prefix; genres; none on Beauty), the SENet gates (``senet``)
    over each tower's fields, and :math:`\mathbf{a}_t` the optional example age
    (:func:`example_ages`; ``example_age``). The score is
    :math:`\mathbf{u}^\top \mathbf{v} / \tau`. Training: in-batch sampled softmax
    (:func:`~graphrec.nn.losses.sampled_softmax_loss`; every other position's target of the
    batch is a negative, repeated items masked as accidental hits), logQ-corrected with
    each target's per-event probability from a streaming
    :class:`~graphrec.sampling.frequency.FrequencyEstimator` updated with every training
    batch's targets (:math:`\log q = \log(n\,\hat p)` for the batch's ``n`` targets);
    ``num_negatives`` > 0 adds that many shared negatives (mixed negative sampling):
    ``"uniform"`` over the catalogue (:math:`\log q = \log(N / |\mathcal{I}|)`, drawn with
    the global torch generator) or ``"frequency"`` (the training item frequency; the
    batches draw them). Scoring ranks items by :math:`\mathbf{u}_t^\top \mathbf{v}_j` at the
    history's last position (example age 0). New users (``score_histories``) have no
    user features: their fields are zero.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: :math:`d` of the item table, the feature fields and both towers'
            outputs.
        hidden_dims: hidden widths of both towers' MLPs (``()``: one linear layer).
        maxlen: history window length.
        temperature: :math:`\tau`.
        normalize: L2-normalise both towers' outputs.
        item_tower: pass item embeddings through :math:`\mathrm{MLP}_v` (else
            :math:`\mathbf{v}_j = \mathbf{e}_j`, normalised when ``normalize``; item
            features need the tower).
        senet: SENet gating of each tower's fields; ``senet_reduction`` its ratio.
        logq: apply the logQ correction.
        in_batch: the batch's other targets are negatives.
        num_negatives: shared extra negatives per batch (0: in-batch only).
        negatives: one of :data:`NEGATIVES`.
        frequency_alpha, frequency_buckets, frequency_hashes: the estimator's
            :math:`\alpha`, buckets and hash functions.
        dropout: dropout between tower layers.
        example_age: feed each training example's age (its target's timestamp relative to
            the latest training time, :func:`example_ages`) to the user tower, 0 at serving.
            Meaningful only where the data has real times (MovieLens), not a file order.
        user_features, item_features: feature matrices of the users / items
            (:meth:`from_graph` builds them from the graph; ``None``: none).
        item_embedding: an :class:`~graphrec.nn.ItemEmbedding` to share.
        init_std: standard deviation of a new item table and of the feature tables.
    """

    # batch_size 32 windows (~1,600 in-batch rows on MovieLens-100K): at 128 the [n, n] in-batch
    # logits made epochs ~6x slower for no better HR@50 (docs/retrieval.md)
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3, "batch_size": 32, "epochs": 100, "eval_every": 1, "patience": 5,
        "metric": "ndcg@10", "ks": (10, 50)}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        hidden_dims: tuple[int, ...] = (128,),
        maxlen: int = 50,
        temperature: float = 0.05,
        normalize: bool = True,
        item_tower: bool = True,
        senet: bool = False,
        senet_reduction: int = 2,
        logq: bool = True,
        in_batch: bool = True,
        num_negatives: int = 0,
        negatives: str = "uniform",
        frequency_alpha: float = 0.01,
        frequency_buckets: int = 2**16,
        frequency_hashes: int = 2,
        dropout: float = 0.0,
        example_age: bool = False,
        user_features: FeatureMatrix | None = None,
        item_features: FeatureMatrix | None = None,
        item_embedding: ItemEmbedding | None = None,
        init_std: float | None = 0.1,
    ) -> None:
        super().__init__(num_users, num_items, embedding_dim, maxlen, "ce",
                         max(num_negatives, 1), item_embedding, init_std,
                         scale_embeddings=False)
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES} (got {negatives!r})")
        self.hidden_dims = tuple(check_number("hidden_dims", h, integer=True, low=1)
                                 for h in hidden_dims)
        self.temperature = check_number("temperature", temperature, low=0, low_open=True)
        self.num_negatives = check_number("num_negatives", num_negatives, integer=True, low=0)
        if not in_batch and num_negatives == 0:
            raise ValueError("in_batch=False needs num_negatives > 0 (no negatives otherwise)")
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        for name, matrix, rows in (("user_features", user_features, num_users),
                                   ("item_features", item_features, num_items)):
            if matrix is not None and matrix.num_rows != rows:
                raise ValueError(f"{name} has {matrix.num_rows} rows for {rows} "
                                 f"{name.split('_')[0]}s")
        if item_features is not None and not item_tower:
            raise ValueError("item_features need item_tower=True (without the tower the item "
                             "vector is its id embedding)")
        self.normalize, self.use_item_tower, self.use_senet = normalize, item_tower, senet
        self.logq, self.in_batch, self.negatives = logq, in_batch, negatives
        self.example_age = bool(example_age)
        feature_std = init_std if init_std is not None else 0.1
        self.user_fields = (FieldEmbedding(user_features, embedding_dim, feature_std)
                            if user_features is not None else None)
        self.item_fields = (FieldEmbedding(item_features, embedding_dim, feature_std)
                            if item_features is not None else None)
        num_user_fields = 2 + (self.user_fields.num_fields if self.user_fields else 0)
        num_item_fields = 1 + (self.item_fields.num_fields if self.item_fields else 0)
        self.user_tower = mlp((num_user_fields * embedding_dim + 3 * self.example_age,
                               *self.hidden_dims, embedding_dim), dropout)
        self.item_tower = (mlp((num_item_fields * embedding_dim, *self.hidden_dims,
                                embedding_dim), dropout) if item_tower else None)
        self.senet = SENet(num_user_fields, senet_reduction) if senet else None
        self.item_senet = (SENet(num_item_fields, senet_reduction)
                           if senet and item_tower and num_item_fields > 1 else None)
        self.frequency = FrequencyEstimator(frequency_buckets, frequency_hashes,
                                            frequency_alpha)
        # the base's attention parts, absent here
        self.blocks = nn.ModuleList()
        self.final_norm = nn.Identity()
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, use_user_features: bool = True,
                   use_item_features: bool = True, numeric: str = "bins", num_bins: int = 10,
                   **kwargs: Any) -> TwoTower:
        """The model on ``train_graph``'s users and items, with their feature matrices
        (:func:`~graphrec.graph.feature_matrix.node_feature_matrix` without the identity
        field: ``x`` columns and side relations, numeric ones by ``numeric`` with
        ``num_bins``) when ``use_user_features`` / ``use_item_features`` and the graph has
        any (item features only with an item tower)."""
        if numeric not in NUMERIC_ENCODINGS:
            raise ValueError(f"numeric must be one of {NUMERIC_ENCODINGS} (got {numeric!r})")
        item_tower = kwargs.get("item_tower",
                                _signature_default(cls, "item_tower"))
        matrices = {}
        for node_type, wanted in ((USER, use_user_features),
                                  (ITEM, use_item_features and item_tower)):
            store = train_graph[node_type]
            has_side = any(r[0] == node_type and r[2] not in (USER, ITEM)
                           for r in train_graph.edge_types)
            if wanted and (store.get("x") is not None or has_side):
                matrices[node_type] = node_feature_matrix(
                    train_graph, node_type, identity=False, numeric=numeric,
                    num_bins=num_bins)
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes,
                   user_features=matrices.get(USER), item_features=matrices.get(ITEM),
                   **kwargs)

    def reset_parameters(self) -> None:
        if not self.shared_items:
            self.item_embedding.reset_parameters()
        for tower in (self.user_tower, self.item_tower):
            for layer in tower or ():
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
        for module in (self.senet, self.item_senet, self.user_fields, self.item_fields):
            if module is not None:
                module.reset_parameters()
        self.frequency.reset_parameters()

    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> SequenceBatches | AgedSequenceBatches:
        shared = self.num_negatives > 0 and self.negatives == "frequency"
        batches = SequenceBatches(train, self.maxlen, batch_size,
                                  negatives="shared" if shared else "none",
                                  num_negatives=max(self.num_negatives, 1), device=device,
                                  seed=seed)
        return AgedSequenceBatches(batches, train) if self.example_age else batches

    def _unit(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def encode(self, items: Tensor, positions: Tensor, times: Tensor,
               users: Tensor | None = None, ages: Tensor | None = None) -> Tensor:
        """``[B, T]`` left-padded items → ``[B, T, d]`` user vectors after each prefix.

        ``users`` ``[B]``: whose features to read (``None``: new users, zero features);
        ``ages`` ``[B, T, 3]``: the example age of each position (``None``: serving, 0)."""
        del positions, times  # order enters only through the prefix
        embedded = self.item_embedding(items)  # zero at padding
        count = (items != PADDING).cumsum(1).clamp(min=1).unsqueeze(-1)
        parts = [embedded.cumsum(1) / count, embedded]
        fields = torch.stack(parts, dim=-2)  # [B, T, 2, d]
        if self.user_fields is not None:
            if users is None:
                extra = embedded.new_zeros(*items.shape, self.user_fields.num_fields,
                                           self.embedding_dim)
            else:
                extra = self.user_fields(users).unsqueeze(1).expand(
                    -1, items.size(1), -1, -1)
            fields = torch.cat([fields, extra], dim=-2)
        if self.senet is not None:
            fields = self.senet(fields)
        tower_input = fields.flatten(-2)
        if self.example_age:
            if ages is None:
                ages = tower_input.new_zeros(*items.shape, 3)
            tower_input = torch.cat([tower_input, ages.to(tower_input.dtype)], dim=-1)
        return self._unit(self.user_tower(tower_input))

    def item_vectors(self, items: Tensor | None = None) -> Tensor:
        """The item tower's output for ``items`` (all items when ``None``)."""
        if items is None:
            items = torch.arange(self.num_items, device=self.item_embedding.weight.device)
        table = self.item_embedding(items)
        if self.item_tower is not None:
            fields = table.unsqueeze(-2)
            if self.item_fields is not None:
                fields = torch.cat([fields, self.item_fields(items)], dim=-2)
            if self.item_senet is not None:
                fields = self.item_senet(fields)
            table = self.item_tower(fields.flatten(-2))
        return self._unit(table)

    def output_items(self) -> Tensor:
        return self.item_vectors()

    def scorer_from(self, history: Interactions | Sequence[Interactions] | None,
                    new_users: bool = False) -> Callable[[Tensor], Tensor]:
        if history is None:
            raise ValueError(f"{type(self).__name__} needs the users' history to score")
        parts = [history] if isinstance(history, Interactions) else list(history)
        sequences = Sequences.from_interactions([p.to(self.device) for p in parts])
        table_t = self.output_items().t()
        maxlen = self.maxlen

        def score(users: Tensor) -> Tensor:
            items = sequences.window(users, maxlen)
            width = max(int((items != PADDING).sum(1).max()), 1)
            items = items[:, maxlen - width:]
            positions = torch.arange(maxlen - width, maxlen, device=items.device)
            hidden = self.encode(items, positions, torch.zeros_like(items),
                                 users=None if new_users else users)
            return hidden[:, -1] @ table_t

        return score

    def score_histories(self, histories: Interactions) -> Tensor:
        """A new user's items are its history (ordered by ``edge_time``, then
        ``edge_order``); it has no user features (zero fields)."""
        return self.scorer_from(histories, new_users=True)(
            torch.arange(histories.num_users, device=self.device))

    def loss(self, batch: SequenceBatch) -> Tensor:
        hidden = self.encode(batch.items, batch.positions, batch.times, users=batch.users,
                             ages=getattr(batch, "ages", None))
        valid = batch.targets != PADDING
        query, targets = hidden[valid], batch.targets[valid]
        if self.training:
            self.frequency.update(targets)
        negatives = negative_ids = log_q_negative = log_q_positive = None
        if self.num_negatives:
            # log q: log of the expected number of draws, N q_j of N draws from q
            log_draws = math.log(self.num_negatives)
            if self.negatives == "frequency":
                negative_ids = batch.negatives
                log_q_negative = batch.log_q[negative_ids] + log_draws
            else:
                negative_ids = torch.randint(0, self.num_items, (self.num_negatives,),
                                             device=targets.device)
                log_q_negative = torch.full((self.num_negatives,),
                                            log_draws - math.log(self.num_items),
                                            device=targets.device)
            negatives = self.item_vectors(negative_ids)
        if self.logq:
            if self.in_batch:
                log_q_positive = (self.frequency.probability(targets)
                                  * targets.numel()).log().to(query.dtype)
            elif self.negatives == "frequency":  # the target under the negatives' sampler
                log_q_positive = batch.log_q[targets] + log_draws
            else:
                log_q_positive = log_q_negative[:1].expand(targets.numel())
        if not self.logq:
            log_q_negative = None
        return sampled_softmax_loss(
            query, self.item_vectors(targets), negatives, temperature=self.temperature,
            positive_ids=targets, negative_ids=negative_ids, log_q_positive=log_q_positive,
            log_q_negative=log_q_negative, in_batch=self.in_batch)

    def __repr__(self) -> str:
        user = [f.name for f in self.user_fields.fields] if self.user_fields else []
        item = [f.name for f in self.item_fields.fields] if self.item_fields else []
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, hidden_dims={self.hidden_dims}, "
                f"temperature={self.temperature}, logq={self.logq}, senet={self.use_senet}, "
                f"user_features={user}, item_features={item}, "
                f"example_age={self.example_age})")


def _signature_default(cls: type, name: str) -> Any:
    return inspect.signature(cls.__init__).parameters[name].default


__all__ = ["NEGATIVES", "AgedSequenceBatch", "AgedSequenceBatches", "FieldEmbedding", "SENet",
           "TwoTower", "example_ages", "mlp"]
