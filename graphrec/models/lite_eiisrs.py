"""Lite-EIISRS: factorisation-initialised LightGCN and social towers fused by attention."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER
from graphrec.graph.features import activity_features
from graphrec.graph.interactions import Interactions
from graphrec.models.base import EmbeddingRecommender
from graphrec.models.factorization import als_factors, svd_factors
from graphrec.models.lightgcn import bipartite_edge_index
from graphrec.models.sociallgn import social_message_edges
from graphrec.nn.conv.lightgcn_conv import LightGCNConv
from graphrec.nn.conv.social_conv import SocialConv


class FeatureMLP(nn.Module):
    r""":math:`\mathbf{h} = \mathrm{LeakyReLU}(\mathrm{LayerNorm}(\mathbf{x}\mathbf{W}_1 +
    \mathbf{b}_1))`, :math:`\mathbf{F} = \mathbf{h}\mathbf{W}_2 + \mathbf{b}_2`."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(in_channels, hidden_channels)
        self.norm = nn.LayerNorm(hidden_channels)
        self.lin2 = nn.Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin2(F.leaky_relu(self.norm(self.lin1(x))))


class TokenFusion(nn.Module):
    r"""Attention fusion of a node's source embeddings.

    Each of the :math:`S` sources is projected to a token of width :math:`d_t`
    (:math:`\mathbf{z}_s = \mathbf{x}_s \mathbf{P}_s + \mathbf{b}_s`), and the :math:`S`
    tokens of one node attend to each other with :math:`h`-head self-attention and a
    residual:

    .. math::
        \mathbf{Z}' = \mathbf{Z} + \big\|_{j=1}^{h} \mathrm{softmax}\Big(
        \frac{\mathbf{Q}_j \mathbf{K}_j^\top}{\sqrt{d_t / h}}\Big)\mathbf{V}_j\,
        \mathbf{W}_O

    with :math:`\mathbf{Q}, \mathbf{K}, \mathbf{V} = \mathbf{Z}\mathbf{W}_{Q,K,V}` split
    into heads. The output is :math:`\mathbf{Z}'` flattened, :math:`[N, S \cdot d_t]`.
    With ``use_attention=False`` it is :math:`\mathbf{Z}` flattened (the ablation).
    Attention over a handful of tokens is a few batched ``[S, S]`` products per node,
    written out with ``einsum`` (faster on CPU here than the fused attention kernels,
    which are tuned for long sequences).
    """

    def __init__(self, source_dims: list[int], token_dim: int, num_heads: int = 2,
                 use_attention: bool = True) -> None:
        super().__init__()
        if token_dim % num_heads:
            raise ValueError(f"token_dim ({token_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        self.projections = nn.ModuleList(nn.Linear(d, token_dim) for d in source_dims)
        self.num_heads = num_heads
        self.use_attention = use_attention
        if use_attention:
            self.qkv = nn.Linear(token_dim, 3 * token_dim)
            self.out = nn.Linear(token_dim, token_dim)
        self.out_channels = token_dim * len(source_dims)

    def forward(self, sources: list[Tensor]) -> Tensor:
        tokens = torch.stack([proj(x) for proj, x in zip(self.projections, sources, strict=True)],
                             dim=1)
        if not self.use_attention:
            return tokens.flatten(1)
        num_nodes, num_tokens, width = tokens.shape
        head_dim = width // self.num_heads
        query, key, value = self.qkv(tokens).view(
            num_nodes, num_tokens, 3, self.num_heads, head_dim).unbind(2)
        scores = torch.einsum("nshd,nthd->nhst", query, key) / head_dim ** 0.5
        attended = torch.einsum("nhst,nthd->nshd", scores.softmax(-1), value)
        return (tokens + self.out(attended.reshape(num_nodes, num_tokens, width))).flatten(1)


class OutputHead(nn.Module):
    r""":math:`\mathbf{e} = \mathrm{MLP}([\mathbf{e}^{(0)} \,\|\, \mathbf{z}]) +
    \beta\,\mathbf{e}^{(0)}` with a two-layer LeakyReLU MLP (dropout ``dropout`` on its
    input in training mode)."""

    def __init__(self, base_dim: int, fused_dim: int, beta: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.beta = beta
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(base_dim + fused_dim, 2 * base_dim),
                                 nn.LeakyReLU(), nn.Linear(2 * base_dim, base_dim))

    def forward(self, base: Tensor, fused: Tensor) -> Tensor:
        return self.mlp(torch.cat([base, fused], dim=-1)) + self.beta * base


class LiteEIISRS(EmbeddingRecommender):
    r"""Lite-EIISRS, graphrec's social recommender (from the project's design document).

    1. **Initial embeddings** from the training matrix :math:`R`: least-squares MF
       factors (:func:`~graphrec.models.factorization.als_factors`) and truncated-SVD
       factors :math:`\tilde U \Sigma^{1/2}, \tilde V \Sigma^{1/2}`
       (:func:`~graphrec.models.factorization.svd_factors`). They initialise learnable
       tables (fine-tuned by training), each rescaled by one constant so its entries have
       standard deviation ``init_scale`` (directions and relative norms are kept).
       :math:`U^{(0)}, V^{(0)}` are their mean (``combine="mean"``) or concatenation.
    2. **Statistical features** (:func:`~graphrec.graph.features.activity_features`:
       degree, total listening weight, tagging frequency, time-decayed activity; z-scored)
       through :class:`FeatureMLP`.
    3. **Towers**: ``num_layers`` LightGCN layers in the row-normalised variant with
       residual, :math:`U^{(l+1)} = D_u^{-1} R V^{(l)} + \alpha U^{(0)}`,
       :math:`V^{(l+1)} = D_i^{-1} R^\top U^{(l)} + \alpha V^{(0)}`, and
       ``num_social_layers`` :class:`~graphrec.nn.SocialConv` layers on :math:`U^{(0)}`.
    4. **Fusion** (:class:`TokenFusion`): the seed leaves open what attends to what; here
       the sources of one node are that node's tokens — five for a user
       :math:`[u_{MF}, u_{SVD}, F_u, U^{(L)}, U_s^{(L_s)}]`, four for an item (no social) —
       each projected to width ``token_dim``, with 2-head self-attention among them and a
       residual. Shapes: users ``[U, 5, token_dim]`` → ``[U, 5 * token_dim]``.
    5. **Output** (:class:`OutputHead`): :math:`u = \mathrm{MLP}([U^{(0)} \| U_{fused}]) +
       \beta U^{(0)}`, items likewise; score :math:`u^\top v`.
    6. **Loss**: BPR + ``reg_weight`` times the L2 penalty on the batch's initial
       embeddings (:class:`~graphrec.models.base.EmbeddingRecommender`).

    Every part can be switched off for ablations (``use_mf``, ``use_svd``,
    ``use_features``, ``use_social``, ``use_attention``); with neither MF nor SVD the
    initial tables are random (:math:`\mathcal{N}(0, \text{init\_scale}^2)`). The dense
    heads (fusion and output) run only on the rows a training batch needs; the sparse
    towers run on the whole graph once per step.

    Args:
        num_users, num_items: index space sizes.
        edge_index: ``[2, E]`` training (user, item) pairs.
        social_edge_index: ``[2, S]`` user pairs in message direction (``None``: no social).
        user_features, item_features: ``[N, F]`` statistical features (``None``: none).
        embedding_dim: width of each initial table.
        num_layers, num_social_layers: :math:`L`, :math:`L_s`.
        alpha: LightGCN residual weight. beta: output residual weight.
        combine: ``"mean"`` or ``"concat"`` for :math:`U^{(0)}`.
        token_dim, num_heads: fusion token width and attention heads.
        feature_hidden: hidden width of :class:`FeatureMLP`.
        social_dropout: dropout of :class:`~graphrec.nn.SocialConv`.
        head_dropout: dropout on the output heads' input.
        freeze_initial: keep the MF/SVD tables fixed at their closed-form values (only
            the towers' weights, fusion and heads train).
        als_reg, init_scale, seed: factorisation settings.
        reg_weight: L2 weight on the batch's initial embeddings.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        edge_index: Tensor,
        social_edge_index: Tensor | None = None,
        user_features: Tensor | None = None,
        item_features: Tensor | None = None,
        embedding_dim: int = 64,
        num_layers: int = 2,
        num_social_layers: int = 2,
        alpha: float = 0.1,
        beta: float = 0.2,
        combine: str = "mean",
        use_mf: bool = True,
        use_svd: bool = True,
        use_features: bool = True,
        use_social: bool = True,
        use_attention: bool = True,
        token_dim: int = 64,
        num_heads: int = 2,
        feature_hidden: int = 64,
        social_dropout: float = 0.1,
        head_dropout: float = 0.0,
        freeze_initial: bool = False,
        als_reg: float = 1.0,
        init_scale: float = 0.1,
        seed: int = 0,
        reg_weight: float = 1e-4,
    ) -> None:
        super().__init__(num_users, num_items, reg_weight)
        if combine not in ("mean", "concat"):
            raise ValueError(f"combine must be 'mean' or 'concat' (got {combine!r})")
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.combine = combine
        self.init_scale = init_scale
        self.als_reg = als_reg
        self.seed = seed
        self.use_features = use_features and user_features is not None
        self.use_social = use_social and social_edge_index is not None and num_social_layers > 0
        self.sources = [name for name, on in (("mf", use_mf), ("svd", use_svd)) if on] or ["id"]
        self.user_tables = nn.ModuleDict(
            {name: nn.Embedding(num_users, embedding_dim) for name in self.sources})
        self.item_tables = nn.ModuleDict(
            {name: nn.Embedding(num_items, embedding_dim) for name in self.sources})
        base_dim = embedding_dim * (len(self.sources) if combine == "concat" else 1)
        self.base_dim = base_dim

        self.register_buffer("train_edge_index", edge_index, persistent=False)
        self.register_buffer("graph_edge_index", bipartite_edge_index(edge_index, num_users),
                             persistent=False)
        self.conv = LightGCNConv(normalize="row", alpha=alpha)
        if self.use_social:
            self.register_buffer("social_edge_index", social_edge_index, persistent=False)
            self.social_convs = nn.ModuleList(
                SocialConv(base_dim, dropout=social_dropout) for _ in range(num_social_layers))
        if self.use_features:
            self.register_buffer("user_features", user_features.float(), persistent=False)
            self.register_buffer("item_features", item_features.float(), persistent=False)
            self.user_feature_mlp = FeatureMLP(user_features.size(1), feature_hidden, embedding_dim)
            self.item_feature_mlp = FeatureMLP(item_features.size(1), feature_hidden, embedding_dim)

        table_dims = [embedding_dim] * len(self.sources)
        feature_dims = [embedding_dim] if self.use_features else []
        user_dims = table_dims + feature_dims + [base_dim] + ([base_dim] if self.use_social else [])
        item_dims = table_dims + feature_dims + [base_dim]
        self.user_fusion = TokenFusion(user_dims, token_dim, num_heads, use_attention)
        self.item_fusion = TokenFusion(item_dims, token_dim, num_heads, use_attention)
        self.user_head = OutputHead(base_dim, self.user_fusion.out_channels, beta, head_dropout)
        self.item_head = OutputHead(base_dim, self.item_fusion.out_channels, beta, head_dropout)
        self.reset_parameters()
        if freeze_initial:
            for table in (*self.user_tables.values(), *self.item_tables.values()):
                table.weight.requires_grad_(False)

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> LiteEIISRS:
        """Builds the model with the training graph's social edges and activity features."""
        user_features, item_features = activity_features(train_graph)
        social = social_message_edges(train_graph)
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes,
                   train_graph[INTERACTS].edge_index,
                   social_edge_index=social if social.numel() else None,
                   user_features=user_features, item_features=item_features, **kwargs)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Re-initialises every module; the initial tables from MF and SVD of the training
        matrix (random for ``"id"``)."""
        train = Interactions(self.train_edge_index.cpu(), self.num_users, self.num_items)
        for name in self.sources:
            if name == "mf":
                users, items = als_factors(train, self.embedding_dim, self.als_reg, seed=self.seed)
            elif name == "svd":
                users, items = svd_factors(train, self.embedding_dim, seed=self.seed)
            else:
                generator = torch.Generator().manual_seed(self.seed)
                users = torch.randn(self.num_users, self.embedding_dim, generator=generator)
                items = torch.randn(self.num_items, self.embedding_dim, generator=generator)
            users, items = torch.as_tensor(users).float(), torch.as_tensor(items).float()
            scale = self.init_scale / torch.cat([users, items]).std().clamp(min=1e-12)
            self.user_tables[name].weight.copy_(users * scale)
            self.item_tables[name].weight.copy_(items * scale)
        modules = [self.user_fusion, self.item_fusion, self.user_head, self.item_head]
        if self.use_features:
            modules += [self.user_feature_mlp, self.item_feature_mlp]
        if self.use_social:
            modules += list(self.social_convs)
        for module in modules:
            for child in module.modules():
                if child is not module and hasattr(child, "reset_parameters"):
                    child.reset_parameters()
        self.conv.reset_parameters()

    def _base(self, tables: nn.ModuleDict) -> Tensor:
        weights = [tables[name].weight for name in self.sources]
        if len(weights) == 1:
            return weights[0]
        if self.combine == "concat":
            return torch.cat(weights, -1)
        return sum(weights) / len(weights)

    def towers(self) -> dict[str, Tensor]:
        """Whole-graph parts: initial embeddings, LightGCN and social tower outputs."""
        user_base, item_base = self._base(self.user_tables), self._base(self.item_tables)
        x0 = torch.cat([user_base, item_base])
        x = x0
        for _ in range(self.num_layers):
            x = self.conv(x, self.graph_edge_index, x0=x0)
        out = {"user_base": user_base, "item_base": item_base,
               "user_graph": x[: self.num_users], "item_graph": x[self.num_users:]}
        if self.use_social:
            social = user_base
            for conv in self.social_convs:
                social = conv(social, self.social_edge_index)
            out["user_social"] = social
        return out

    def _head(self, kind: str, towers: dict[str, Tensor], rows: Tensor | None) -> Tensor:
        def take(x: Tensor) -> Tensor:
            return x if rows is None else x[rows]

        tables = self.user_tables if kind == "user" else self.item_tables
        sources = [take(tables[name].weight) for name in self.sources]
        if self.use_features:
            mlp = self.user_feature_mlp if kind == "user" else self.item_feature_mlp
            features = self.user_features if kind == "user" else self.item_features
            sources.append(mlp(take(features)))
        sources.append(take(towers[f"{kind}_graph"]))
        if kind == "user" and self.use_social:
            sources.append(take(towers["user_social"]))
        fusion = self.user_fusion if kind == "user" else self.item_fusion
        head = self.user_head if kind == "user" else self.item_head
        return head(take(towers[f"{kind}_base"]), fusion(sources))

    def forward(self) -> tuple[Tensor, Tensor]:
        towers = self.towers()
        return self._head("user", towers, None), self._head("item", towers, None)

    def embed(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        towers = self.towers()
        unique_users, user_pos = torch.unique(users, return_inverse=True)
        unique_items, item_pos = torch.unique(items, return_inverse=True)
        return (self._head("user", towers, unique_users)[user_pos],
                self._head("item", towers, unique_items)[item_pos])

    def ego_embeddings(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        return (torch.cat([self.user_tables[n](users) for n in self.sources], -1),
                torch.cat([self.item_tables[n](items) for n in self.sources], -1))

    def __repr__(self) -> str:
        parts = "+".join(self.sources) + ("+features" if self.use_features else "") + (
            "+social" if self.use_social else "") + (
            "+attention" if self.user_fusion.use_attention else "")
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, parts={parts})")
