"""SocialLGN: LightGCN on the interaction graph fused per layer with social propagation."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import FOLLOWS, INTERACTS, ITEM, USER
from graphrec.models.lightgcn import LightGCN, check_edge_index
from graphrec.models.registry import register
from graphrec.nn.conv.lightgcn_conv import LightGCNConv


def social_message_edges(graph: HeteroData) -> Tensor:
    """Social edges in message direction: for "u follows v", v's embedding flows to u."""
    if FOLLOWS not in graph.edge_types:
        return torch.zeros(2, 0, dtype=torch.long)
    return graph[FOLLOWS].edge_index.flip(0)


class GraphFusion(nn.Module):
    r"""SocialLGN's fusion of a user's social and interaction messages:
    :math:`\mathbf{e} = \mathrm{norm}\big(\mathbf{W}_c [\tanh(\mathbf{W}_s \mathbf{e}_S)
    \,\|\, \tanh(\mathbf{W}_I \mathbf{e}_I)] + \mathbf{b}_c\big)`.

    Args:
        channels: embedding size.
        norm: ``"row"`` L2-normalises each user's vector (the paper's formula);
            ``"global"`` divides by the Frobenius norm of the whole matrix, as the authors'
            released code does.
    """

    def __init__(self, channels: int, norm: str = "row") -> None:
        super().__init__()
        if norm not in ("row", "global"):
            raise ValueError(f"norm must be 'row' or 'global' (got {norm!r})")
        self.norm = norm
        self.social = nn.Linear(channels, channels, bias=False)
        self.interaction = nn.Linear(channels, channels, bias=False)
        self.combine = nn.Linear(2 * channels, channels)

    def forward(self, social: Tensor, interaction: Tensor) -> Tensor:
        fused = self.combine(torch.cat([torch.tanh(self.social(social)),
                                        torch.tanh(self.interaction(interaction))], dim=-1))
        if self.norm == "row":
            return F.normalize(fused, dim=-1)
        return fused / fused.norm(2)


@register("sociallgn")
class SocialLGN(LightGCN):
    r"""SocialLGN, from `"SocialLGN: Light Graph Convolution Network for Social
    Recommendation" <https://doi.org/10.1016/j.ins.2022.01.001>`_ (Liao et al.,
    Information Sciences 2022).

    Per layer :math:`k`, items propagate as in LightGCN; users receive an interaction
    message and a social message, fused by :class:`GraphFusion`:

    .. math::
        \mathbf{e}_{u,I}^{(k+1)} = \sum_{i \in \mathcal{N}_u}
            \tfrac{1}{\sqrt{|\mathcal{N}_u||\mathcal{N}_i|}} \mathbf{e}_i^{(k)}, \quad
        \mathbf{e}_{u,S}^{(k+1)} = \sum_{v \in \mathcal{S}_u}
            \tfrac{1}{\sqrt{|\mathcal{S}_u||\mathcal{S}_v|}} \mathbf{e}_v^{(k)}, \quad
        \mathbf{e}_u^{(k+1)} = g\big(\mathbf{e}_{u,S}^{(k+1)}, \mathbf{e}_{u,I}^{(k+1)}\big)

    and the final embedding is the layer mean :math:`\frac{1}{K+1}\sum_k \mathbf{e}^{(k)}`.
    One fusion module is shared by all layers, as in the authors' code.

    Args:
        num_users, num_items: index space sizes.
        edge_index: ``[2, E]`` training (user, item) pairs.
        social_edge_index: ``[2, S]`` user pairs in message direction (see
            :func:`social_message_edges`).
        embedding_dim, num_layers, reg_weight, init_std: as :class:`LightGCN` (paper
            settings: 64, 3, 1e-4, 0.1).
        fusion_norm: see :class:`GraphFusion`.
        loss, num_negatives, temperature, in_batch, logq, similarity: the training
            objective (the paper's ``"bpr"`` by default), as :class:`LightGCN`.
    """

    # the paper's settings (lr 1e-3, L2 1e-4): converges in about 450 epochs on LastFM
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3, "batch_size": 2048, "epochs": 1000, "eval_every": 1, "patience": 50}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        edge_index: Tensor,
        social_edge_index: Tensor,
        embedding_dim: int = 64,
        num_layers: int = 3,
        reg_weight: float = 1e-4,
        init_std: float = 0.1,
        fusion_norm: str = "row",
        loss: str = "bpr",
        num_negatives: int | None = None,
        temperature: float = 0.1,
        in_batch: bool = True,
        logq: bool = True,
        similarity: str = "cosine",
    ) -> None:
        super().__init__(num_users, num_items, edge_index, embedding_dim, num_layers,
                         normalize="sym", reg_weight=reg_weight, init_std=init_std, loss=loss,
                         num_negatives=num_negatives, temperature=temperature,
                         in_batch=in_batch, logq=logq, similarity=similarity)
        self.social_conv = LightGCNConv(normalize="sym")
        self.fusion = GraphFusion(embedding_dim, fusion_norm)
        social_edge_index = check_edge_index(social_edge_index, self.num_users, self.num_users,
                                             "social_edge_index", "user")
        self.register_buffer("social_edge_index", social_edge_index, persistent=False)
        self.reset_parameters()

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> SocialLGN:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes,
                   train_graph[INTERACTS].edge_index, social_message_edges(train_graph), **kwargs)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if hasattr(self, "fusion"):  # LightGCN.__init__ resets before the social parts exist
            for module in (self.fusion.social, self.fusion.interaction, self.fusion.combine):
                module.reset_parameters()
            self.social_conv.reset_parameters()

    def layers(self) -> Iterator[Tensor]:
        x = self.embedding.weight
        yield x
        for _ in range(self.num_layers):
            users = x[: self.num_users]
            social = self.social_conv(users, self.social_edge_index)
            propagated = self.conv(x, self.graph_edge_index)
            users_next = self.fusion(social, propagated[: self.num_users])
            x = torch.cat([users_next, propagated[self.num_users:]])
            yield x

    def fold_in_layer(self, message: Tensor) -> Tensor:
        """A new user has no friends: its social message is zero, fused with the
        interaction message as every user's is."""
        return self.fusion(torch.zeros_like(message), message)
