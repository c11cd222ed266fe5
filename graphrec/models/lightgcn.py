"""LightGCN on the user–item graph."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.models.base import EmbeddingRecommender
from graphrec.models.registry import register
from graphrec.nn.conv.lightgcn_conv import LightGCNConv
from graphrec.nn.item_embedding import ItemEmbedding, check_shared_table


def check_edge_index(edge_index: Tensor, num_users: int, num_items: int,
                     name: str = "edge_index", second: str = "item") -> Tensor:
    """``edge_index`` as a ``[2, E]`` integer tensor whose rows lie in ``[0, num_users)`` and
    ``[0, num_items)``; a clear ``ValueError`` otherwise (an index out of range would fail
    later inside propagation, or silently alias another node)."""
    edge_index = torch.as_tensor(edge_index)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"{name} must have shape [2, E] (got {list(edge_index.shape)})")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer indices (got {edge_index.dtype})")
    if edge_index.numel():
        for row, count, what in ((0, num_users, "user"), (1, num_items, second)):
            low, high = int(edge_index[row].min()), int(edge_index[row].max())
            if low < 0 or high >= count:
                raise ValueError(f"{name}[{row}] holds {what} indices in [{low}, {high}]; "
                                 f"expected [0, {count})")
    return edge_index.long()


def bipartite_edge_index(user_item: Tensor, num_users: int) -> Tensor:
    """Homogeneous ``[2, 2E]`` edge index of the user–item graph: users are nodes
    ``0..U-1``, items ``U..U+I-1``, each interaction in both directions."""
    users, items = user_item[0], user_item[1] + num_users
    return torch.cat([torch.stack([users, items]), torch.stack([items, users])], dim=1)


@register("lightgcn")
class LightGCN(EmbeddingRecommender):
    r"""LightGCN, from `"LightGCN: Simplifying and Powering Graph Convolution Network for
    Recommendation" <https://arxiv.org/abs/2002.02126>`_ (He et al., SIGIR 2020).

    .. math::
        \mathbf{E}^{(l+1)} = \tilde{\mathbf{A}} \mathbf{E}^{(l)}, \qquad
        \mathbf{E} = \sum_{l=0}^{L} \alpha_l \mathbf{E}^{(l)}, \qquad
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i

    with :math:`\alpha_l = 1/(L+1)` (the paper's layer mean) and
    :math:`\tilde{\mathbf{A}}` the normalised user–item adjacency of
    :class:`~graphrec.nn.LightGCNConv` (``"sym"`` by default; ``"row"`` with
    ``residual_alpha = 0.1`` is graphrec's design variant). The normalised adjacency is
    built once, on the first forward pass, and reused.

    Args:
        num_users, num_items: index space sizes.
        edge_index: ``[2, E]`` training (user, item) pairs.
        embedding_dim: :math:`d`.
        num_layers: :math:`L` (0: no propagation, i.e. BPR-MF).
        normalize: ``"sym"`` or ``"row"``.
        residual_alpha: residual weight to the layer-0 embeddings in each layer.
        reg_weight: L2 weight on the batch's layer-0 embeddings.
        init_std: layer-0 embeddings start from :math:`\mathcal{N}(0, \sigma^2)`
            (0.1, as in the authors' code); must be positive.
        item_embedding: optional shared :class:`~graphrec.nn.ItemEmbedding` holding the
            items' layer-0 embeddings (e.g. shared with SASRec); it keeps its own values.
            Without it, users and items share one table, as before.
        loss, num_negatives, temperature, in_batch, logq, similarity: the training
            objective, ``"bpr"`` (the paper) or ``"sampled_softmax"`` (sampled softmax over
            cosine similarities or inner products of the layer-mean embeddings, which then
            are the scores); see :class:`~graphrec.models.base.EmbeddingRecommender`.
    """

    # measured on LastFM (docs/models.md): plateau decay takes LightGCN's validation NDCG@20
    # from 0.2096 to 0.2125 (seed 0)
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 5e-3, "batch_size": 2048, "epochs": 300, "eval_every": 1, "patience": 50,
        "lr_decay": 0.5, "lr_patience": 10}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        edge_index: Tensor,
        embedding_dim: int = 64,
        num_layers: int = 3,
        normalize: str = "sym",
        residual_alpha: float = 0.0,
        reg_weight: float = 1e-4,
        init_std: float = 0.1,
        item_embedding: ItemEmbedding | None = None,
        loss: str = "bpr",
        num_negatives: int | None = None,
        temperature: float = 0.1,
        in_batch: bool = True,
        logq: bool = True,
        similarity: str = "cosine",
    ) -> None:
        super().__init__(num_users, num_items, reg_weight, loss, num_negatives, temperature,
                         in_batch, logq, similarity)
        embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.embedding_dim = embedding_dim
        self.num_layers = check_number("num_layers", num_layers, integer=True, low=0)
        self.init_std = check_number("init_std", init_std, low=0, low_open=True)
        residual_alpha = check_number("residual_alpha", residual_alpha)
        edge_index = check_edge_index(edge_index, self.num_users, self.num_items)
        self.item_embedding = item_embedding
        check_shared_table(item_embedding, num_items, embedding_dim)
        # with a shared item table, this table holds the users only
        own_rows = num_users + (num_items if item_embedding is None else 0)
        self.embedding = nn.Embedding(own_rows, embedding_dim)
        self.conv = LightGCNConv(normalize=normalize, alpha=residual_alpha)
        self.register_buffer("graph_edge_index", bipartite_edge_index(edge_index, num_users),
                             persistent=False)
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> LightGCN:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes,
                   train_graph[INTERACTS].edge_index, **kwargs)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embedding.weight, std=self.init_std)
        self.conv.reset_parameters()

    def layers(self) -> Iterator[Tensor]:
        r"""The layer embeddings :math:`\mathbf{E}^{(0)}, \dots, \mathbf{E}^{(L)}` of all
        nodes (users, then items), one at a time."""
        x0 = self.embedding.weight
        if self.item_embedding is not None:
            x0 = torch.cat([x0, self.item_embedding.weight])
        x = x0
        yield x0
        for _ in range(self.num_layers):
            x = self.conv(x, self.graph_edge_index, x0=x0)
            yield x

    def forward(self) -> tuple[Tensor, Tensor]:
        total = None
        for x in self.layers():
            total = x if total is None else total + x
        out = total / (self.num_layers + 1)
        return self.output(out[: self.num_users], out[self.num_users:])

    def fold_in_layer(self, message: Tensor) -> Tensor:
        """A new user's next-layer embedding from its interaction ``message`` (LightGCN:
        the message itself; the residual to its layer 0 is zero)."""
        return message

    def score_histories(self, histories: Interactions) -> Tensor:
        r"""Fold-in: each history is a new user node connected to its items. Its layer 0
        is zero (it has no trained embedding) and layer :math:`l + 1` is the propagation
        of its items' layer-:math:`l` embeddings with this model's normalisation,

        .. math::
            \mathbf{e}_{u}^{(l+1)} = \sum_{i \in h} c_{ui}\, \mathbf{e}_i^{(l)}, \qquad
            c_{ui} = \frac{1}{\sqrt{|h|\,(d_i + 1)}}\ (\text{sym}), \quad
            \frac{1}{|h|}\ (\text{row}), \quad 1\ (\text{none})

        read out as the layer mean. The approximation: the items' embeddings are those of
        the training graph (the new edges would change them, and :math:`d_i + 1` is the
        item's degree with the new edge).
        """
        num_users, num_items = self.num_users, self.num_items
        histories = histories.to(self.device)
        rows, items = histories.users, histories.indices
        size = histories.user_degree().to(torch.float32)[rows]
        normalize = self.conv.normalize
        if normalize == "sym":
            degree = torch.bincount(self.graph_edge_index[1], minlength=num_users + num_items)
            coef = (size * (degree[num_users + items] + 1).to(torch.float32)).rsqrt()
        elif normalize == "row":
            coef = size.reciprocal()
        else:
            coef = torch.ones_like(size)
        total = user_total = message = None
        for x in self.layers():
            total = x if total is None else total + x
            user = (torch.zeros(histories.num_users, x.size(1), device=x.device, dtype=x.dtype)
                    if message is None else self.fold_in_layer(message))  # layer 0: zero
            user_total = user if user_total is None else user_total + user
            message = torch.zeros_like(user).index_add_(
                0, rows, coef.to(x.dtype).unsqueeze(1) * x[num_users + items])
        scale = self.num_layers + 1
        user_emb, item_emb = self.output(user_total / scale, total[num_users:] / scale)
        return user_emb @ item_emb.t()

    def ego_embeddings(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        if self.item_embedding is not None:
            return self.embedding(users), self.item_embedding(items)
        return self.embedding(users), self.embedding(items + self.num_users)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, num_layers={self.num_layers}, "
                f"conv={self.conv})")
