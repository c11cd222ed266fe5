"""MIND: multi-interest network with dynamic routing."""
from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from graphrec.graph.checks import check_number
from graphrec.graph.sequences import PADDING
from graphrec.models.history_retrieval import HistoryRetrieval
from graphrec.models.registry import register
from graphrec.nn.interest_routing import InterestRouting, check_power, label_aware_attention
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.sampling.history_batches import HistoryBatch


@register("mind")
class MIND(HistoryRetrieval):
    r"""MIND, from `"Multi-Interest Network with Dynamic Routing for Recommendation at
    Tmall" <https://arxiv.org/abs/1904.08030>`_ (Li et al., CIKM 2019).

    .. math::
        \mathbf{u}_{1..K'_u} = \mathrm{B2I}(\mathbf{e}_{i \in \mathcal{I}_u}), \qquad
        \mathbf{v}_{u,k} = \mathrm{MLP}(\mathbf{u}_k), \qquad
        \text{score}(u, j) = \max_{k \le K'_u} \mathbf{v}_{u,k}^\top \mathbf{e}_j

    The history's item embeddings (the shared :class:`~graphrec.nn.ItemEmbedding`, also the
    label/output table) are routed into :math:`K'_u` interest capsules by
    :class:`~graphrec.nn.InterestRouting` (shared bilinear map, Gaussian routing logits,
    squash, ``routing_iterations`` rounds, adaptive :math:`K'_u = \max(1, \min(K,
    \lfloor\log_2|\mathcal{I}_u|\rfloor))`); with ``hidden_dim > 0`` each capsule then goes
    through the same ReLU layer and a linear output layer (the paper's "several ReLU layers"
    after the capsules; the last one linear so the vectors can point anywhere), by default
    the capsules are the vectors (see ``hidden_dim``). The paper concatenates user
    profile features before those layers; graphrec's data sets carry none that every
    source has, and a user-id embedding would make new users (fold-in) unscoreable, so
    there are none here. Item side features (the paper's category, brand) are left out too:
    items are their id embeddings.

    Training: label-aware attention (:func:`~graphrec.nn.interest_routing.
    label_aware_attention`, eq. 7) turns the interests into one vector per sample,
    :math:`\mathbf{V}_u\,\mathrm{softmax}(\mathrm{pow}(\mathbf{V}_u^\top\mathbf{e}_y, p))`,
    scored by the shared sampled softmax (see :class:`~graphrec.models.history_retrieval.
    HistoryRetrieval`). Serving: the maximum over interests.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: :math:`d` (items, capsules, output vectors).
        num_interests: :math:`K`.
        routing_iterations: routing rounds :math:`R` (the paper: 3).
        adaptive_interests: per-user :math:`K'_u` (else :math:`K` for everyone).
        routing_std: :math:`\sigma` of the initial routing logits.
        pow_p: :math:`p` of label-aware attention (a non-negative integer or ``inf``; the
            paper finds values above 1 better than 0 or 1).
        hidden_dim: width of the ReLU layer after the capsules (0: no layers, the capsules
            are the vectors). The default is 0, with lr 1e-3: on MovieLens-100K's
            validation, the layers (256 wide, lr 3e-3) overfit within 4 epochs (best
            validation NDCG@50 0.058) and without them (lr 1e-3) it reaches 0.109; on Beauty
            the same change took test HR@50 from 0.111 to 0.136 (``docs/retrieval.md``).
        maxlen, num_negatives, temperature, logq, item_embedding, init_std: see
            :class:`~graphrec.models.history_retrieval.HistoryRetrieval`.
    """

    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3, "batch_size": 256, "epochs": 100, "eval_every": 1, "patience": 3,
        "metric": "ndcg@50", "ks": (10, 20, 50)}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        num_interests: int = 4,
        routing_iterations: int = 3,
        adaptive_interests: bool = True,
        routing_std: float = 1.0,
        pow_p: float = 2,
        hidden_dim: int = 0,
        maxlen: int = 50,
        num_negatives: int = 100,
        temperature: float = 1.0,
        logq: bool = False,
        item_embedding: ItemEmbedding | None = None,
        init_std: float | None = None,
    ) -> None:
        super().__init__(num_users, num_items, embedding_dim, maxlen, num_negatives,
                         temperature, logq, item_embedding, init_std)
        self.num_interests = check_number("num_interests", num_interests, integer=True, low=1)
        check_number("routing_iterations", routing_iterations, integer=True, low=1)
        check_number("routing_std", routing_std, low=0, low_open=True)
        self.pow_p = check_power(pow_p)
        self.hidden_dim = check_number("hidden_dim", hidden_dim, integer=True, low=0)
        self.routing = InterestRouting(embedding_dim, embedding_dim, num_interests,
                                       routing_iterations, maxlen, routing_std,
                                       adaptive_interests)
        self.mlp = (nn.Sequential(nn.Linear(embedding_dim, hidden_dim), nn.ReLU(),
                                  nn.Linear(hidden_dim, embedding_dim))
                    if hidden_dim else nn.Identity())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises the item table (unless shared), the routing and the layers."""
        if not self.shared_items:
            self.item_embedding.reset_parameters()
        self.routing.reset_parameters()
        for layer in self.mlp.modules():
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def user_vectors(self, users: Tensor | None, items: Tensor, times: Tensor
                     ) -> tuple[Tensor, Tensor]:
        del users, times  # MIND reads the history's items only
        capsules, mask = self.routing(self.item_embedding(items), items != PADDING)
        return self.mlp(capsules), mask

    def train_query(self, batch: HistoryBatch) -> Tensor:
        vectors, mask = self.user_vectors(batch.users, batch.items, batch.times)
        target = self.item_embedding(batch.targets)
        return label_aware_attention(vectors, target, self.pow_p, mask)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, num_interests={self.num_interests}, "
                f"pow_p={self.pow_p}, maxlen={self.maxlen})")
