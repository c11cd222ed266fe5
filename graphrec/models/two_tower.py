"""Two-tower retrieval with in-batch sampled softmax and the logQ correction."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphrec.graph.checks import check_number
from graphrec.graph.sequences import PADDING
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
    training window, so each next item is one example):

    .. math::
        \mathbf{x}_t = [\tfrac{1}{t}\textstyle\sum_{\tau \le t} \mathbf{e}_{s_\tau};\;
        \mathbf{e}_{s_t}], \qquad
        \mathbf{u}_t = \frac{\mathrm{MLP}_u(\mathrm{SENet}(\mathbf{x}_t))}
        {\lVert \cdot \rVert_2}, \qquad
        \mathbf{v}_j = \frac{\mathrm{MLP}_v(\mathbf{e}_j)}{\lVert \cdot \rVert_2},

    with :math:`\mathbf{E}` the shared :class:`~graphrec.nn.ItemEmbedding` (the history
    average and the last item are the two fields SENet gates, when ``senet``). The score is
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
    history's last position.

    Not (yet) in the towers: user features and item side features.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: :math:`d` of the item table and of both towers' outputs.
        hidden_dims: hidden widths of both towers' MLPs (``()``: one linear layer).
        maxlen: history window length.
        temperature: :math:`\tau`.
        normalize: L2-normalise both towers' outputs.
        item_tower: pass item embeddings through :math:`\mathrm{MLP}_v` (else
            :math:`\mathbf{v}_j = \mathbf{e}_j`, normalised when ``normalize``).
        senet: SENet gating of the user tower's fields; ``senet_reduction`` its ratio.
        logq: apply the logQ correction.
        in_batch: the batch's other targets are negatives.
        num_negatives: shared extra negatives per batch (0: in-batch only).
        negatives: one of :data:`NEGATIVES`.
        frequency_alpha, frequency_buckets, frequency_hashes: the estimator's
            :math:`\alpha`, buckets and hash functions.
        dropout: dropout between tower layers.
        item_embedding: an :class:`~graphrec.nn.ItemEmbedding` to share.
        init_std: standard deviation of a new item table.
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
        self.normalize, self.use_item_tower, self.use_senet = normalize, item_tower, senet
        self.logq, self.in_batch, self.negatives = logq, in_batch, negatives
        self.user_tower = mlp((2 * embedding_dim, *self.hidden_dims, embedding_dim), dropout)
        self.item_tower = (mlp((embedding_dim, *self.hidden_dims, embedding_dim), dropout)
                           if item_tower else None)
        self.senet = SENet(2, senet_reduction) if senet else None
        self.frequency = FrequencyEstimator(frequency_buckets, frequency_hashes,
                                            frequency_alpha)
        # the base's attention parts, absent here
        self.blocks = nn.ModuleList()
        self.final_norm = nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if not self.shared_items:
            self.item_embedding.reset_parameters()
        for tower in (self.user_tower, self.item_tower):
            for layer in tower or ():
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
        if self.senet is not None:
            self.senet.reset_parameters()
        self.frequency.reset_parameters()

    def train_batches(self, train, batch_size: int, device: torch.device | str, seed: int
                      ) -> SequenceBatches:
        shared = self.num_negatives > 0 and self.negatives == "frequency"
        return SequenceBatches(train, self.maxlen, batch_size,
                               negatives="shared" if shared else "none",
                               num_negatives=max(self.num_negatives, 1), device=device,
                               seed=seed)

    def _unit(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def encode(self, items: Tensor, positions: Tensor, times: Tensor) -> Tensor:
        """``[B, T]`` left-padded items → ``[B, T, d]`` user vectors after each prefix."""
        del positions, times  # order enters only through the prefix
        embedded = self.item_embedding(items)  # zero at padding
        count = (items != PADDING).cumsum(1).clamp(min=1).unsqueeze(-1)
        fields = torch.stack([embedded.cumsum(1) / count, embedded], dim=-2)  # [B, T, 2, d]
        if self.senet is not None:
            fields = self.senet(fields)
        return self._unit(self.user_tower(fields.flatten(-2)))

    def item_vectors(self, items: Tensor | None = None) -> Tensor:
        """The item tower's output for ``items`` (all items when ``None``)."""
        table = self.item_embedding.weight if items is None else self.item_embedding(items)
        if self.item_tower is not None:
            table = self.item_tower(table)
        return self._unit(table)

    def output_items(self) -> Tensor:
        return self.item_vectors()

    def loss(self, batch: SequenceBatch) -> Tensor:
        hidden = self.encode(batch.items, batch.positions, batch.times)
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
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, hidden_dims={self.hidden_dims}, "
                f"temperature={self.temperature}, logq={self.logq}, senet={self.use_senet})")


__all__ = ["NEGATIVES", "SENet", "TwoTower", "mlp"]
