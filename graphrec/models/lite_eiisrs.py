"""Lite-EIISRS: factorisation-initialised LightGCN and social towers fused by attention.

The model's settings come in typed groups (frozen dataclasses, each field checked when the
group is made), one per part of the design: :class:`InitialEmbeddingSettings` (the MF/SVD
start), :class:`GraphTowerSettings`, :class:`SocialTowerSettings`, :class:`FusionSettings`
(statistical features and token attention), :class:`HeadSettings` (output heads) and
:class:`BlendSettings` (fixed factor channels at inference). A configuration file or
``--set`` gives a group as a table of some of its fields
(``hyperparameters.social.enabled = true``); in Python pass the dataclass
(``LiteEIISRS.from_graph(graph, social=SocialTowerSettings(enabled=True))``) or a dict of
fields to :func:`~graphrec.models.build_model`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER
from graphrec.graph.checks import check_group, check_number, shown
from graphrec.graph.features import activity_features
from graphrec.graph.interactions import Interactions
from graphrec.models.base import EmbeddingRecommender
from graphrec.models.factorization import als_factors, svd_factors
from graphrec.models.lightgcn import bipartite_edge_index, check_edge_index
from graphrec.models.registry import register
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
    \beta\,\mathbf{r}` with a two-layer LeakyReLU MLP (dropout ``dropout`` on its
    input in training mode); the residual :math:`\mathbf{r}` is :math:`\mathbf{e}^{(0)}`
    unless another is passed."""

    def __init__(self, base_dim: int, fused_dim: int, beta: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.beta = beta
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(base_dim + fused_dim, 2 * base_dim),
                                 nn.LeakyReLU(), nn.Linear(2 * base_dim, base_dim))

    def forward(self, base: Tensor, fused: Tensor, residual: Tensor | None = None) -> Tensor:
        residual = base if residual is None else residual
        return self.mlp(torch.cat([base, fused], dim=-1)) + self.beta * residual


# --------------------------------------------------------------------------- settings
def _set(group: Any, name: str, value: Any) -> None:
    """Stores a checked (normalised) value in a frozen group."""
    object.__setattr__(group, name, value)


def _check_flags(group: Any, *names: str) -> None:
    for name in names:
        value = getattr(group, name)
        if not isinstance(value, bool):
            raise ValueError(f"{type(group).__name__}.{name} must be True or False "
                             f"(got {shown(value)})")


def _check_choice(group: Any, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(group, name)
    if value not in allowed:
        raise ValueError(f"{type(group).__name__}.{name} must be one of {allowed} "
                         f"(got {shown(value)})")



@dataclass(frozen=True)
class InitialEmbeddingSettings:
    r"""Step 1: :math:`U^{(0)}, V^{(0)}` and the factor tokens from closed-form
    factorisations of the training matrix."""

    use_mf: bool = True
    """Least-squares MF factors (:func:`~graphrec.models.factorization.als_factors`)."""
    use_svd: bool = True
    """Truncated-SVD factors (:func:`~graphrec.models.factorization.svd_factors`)."""
    combine: str = "mean"
    r"""``"mean"`` or ``"concat"`` of the factorisations for :math:`U^{(0)}, V^{(0)}`."""
    als_reg: float = 5.0
    """L2 regularisation of the MF factors (greater than 0)."""
    scale: float = 0.1
    """Standard deviation each factorisation is rescaled to, and of the random start
    without MF and SVD (greater than 0)."""
    finetune_tokens: bool = False
    """Train the MF/SVD fusion tokens too (fixed factors by default)."""
    freeze: bool = False
    r"""Keep :math:`U^{(0)}, V^{(0)}` at their closed-form start."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        _check_flags(self, "use_mf", "use_svd", "finetune_tokens", "freeze")
        _check_choice(self, "combine", ("mean", "concat"))
        for field in ("als_reg", "scale"):
            _set(self, field, check_number(f"{name}.{field}", getattr(self, field), low=0,
                                           low_open=True))


@dataclass(frozen=True)
class GraphTowerSettings:
    r"""Step 3: the LightGCN tower on :math:`U^{(0)}, V^{(0)}` (its depth is the model's
    ``num_layers``)."""

    normalize: str = "sym"
    r"""``"sym"`` (LightGCN's :math:`D^{-1/2} A D^{-1/2}`) or ``"row"`` (the seed's
    :math:`D^{-1}` propagation with a residual to layer 0)."""
    readout: str = "mean"
    r"""``"mean"`` of layers :math:`0..L` (as LightGCN) or the ``"last"`` layer."""
    residual_alpha: float = 0.1
    r""":math:`\alpha` of the ``"row"`` variant's residual (LightGCN's ``residual_alpha``)."""

    def __post_init__(self) -> None:
        _check_choice(self, "normalize", ("row", "sym"))
        _check_choice(self, "readout", ("last", "mean"))
        _set(self, "residual_alpha", check_number(f"{type(self).__name__}.residual_alpha",
                                                  self.residual_alpha))


@dataclass(frozen=True)
class SocialTowerSettings:
    """Step 3: :class:`~graphrec.nn.SocialConv` layers on the users (off by default: its
    learned weights lowered validation NDCG on LastFM)."""

    enabled: bool = False
    """Use the social tower (when the graph has social edges and ``num_layers > 0``)."""
    num_layers: int = 1
    r""":math:`L_s` (at least 0)."""
    input: str = "graph"
    r"""``"graph"`` (the graph tower's user output) or ``"base"`` (:math:`U^{(0)}`)."""
    dropout: float = 0.1
    """Dropout of :class:`~graphrec.nn.SocialConv`, in [0, 1)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        _check_flags(self, "enabled")
        _set(self, "num_layers", check_number(f"{name}.num_layers", self.num_layers,
                                              integer=True, low=0))
        _check_choice(self, "input", ("base", "graph"))
        _set(self, "dropout", check_number(f"{name}.dropout", self.dropout, low=0, high=1,
                                           high_open=True))


@dataclass(frozen=True)
class FusionSettings:
    """Steps 2 and 4: the statistical-feature token and the attention fusion of a node's
    tokens (:class:`TokenFusion`)."""

    use_features: bool = True
    """Add the activity features (through :class:`FeatureMLP`) as a token."""
    feature_hidden: int = 64
    """Hidden width of :class:`FeatureMLP` (at least 1)."""
    token_dim: int = 64
    """Width of each token (at least 1; divisible by ``num_heads``)."""
    num_heads: int = 2
    """Attention heads (at least 1)."""
    use_attention: bool = True
    """Self-attention among the tokens (``False``: the tokens concatenated)."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        _check_flags(self, "use_features", "use_attention")
        for field in ("feature_hidden", "token_dim", "num_heads"):
            _set(self, field, check_number(f"{name}.{field}", getattr(self, field),
                                           integer=True, low=1))
        if self.token_dim % self.num_heads:
            raise ValueError(f"{name}.token_dim ({self.token_dim}) must be divisible by "
                             f"num_heads ({self.num_heads})")


@dataclass(frozen=True)
class HeadSettings:
    """Step 5: the fusion and output heads (:class:`TokenFusion`, :class:`OutputHead`)."""

    enabled: bool = False
    """Use the heads (``False``: the residual path alone)."""
    residual: str = "graph"
    r"""``"graph"`` (the graph tower's output) or ``"base"`` (:math:`U^{(0)}`) as the
    residual."""
    beta: float = 1.0
    r""":math:`\beta`, the residual's weight."""
    dropout: float = 0.0
    """Dropout on the heads' input, in [0, 1)."""
    zero_init: bool = True
    """Start the heads' last layers at zero, so the model starts as its residual path."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        _check_flags(self, "enabled", "zero_init")
        _check_choice(self, "residual", ("base", "graph"))
        _set(self, "beta", check_number(f"{name}.beta", self.beta))
        _set(self, "dropout", check_number(f"{name}.dropout", self.dropout, low=0, high=1,
                                           high_open=True))


@dataclass(frozen=True)
class BlendSettings:
    r"""The fixed factor channels blended into the score at inference,
    :math:`\hat y = s/\sigma + w_{MF}\, s_{MF}/\sigma_{MF} + w_{SVD}\, s_{SVD}/\sigma_{SVD}`
    (0 leaves a channel out; a positive weight needs that factorisation)."""

    mf: float = 0.1
    r""":math:`w_{MF}` (at least 0)."""
    svd: float = 0.0
    r""":math:`w_{SVD}` (at least 0)."""

    def __post_init__(self) -> None:
        for field in ("mf", "svd"):
            _set(self, field, check_number(f"{type(self).__name__}.{field}",
                                           getattr(self, field), low=0))


# The design document's configuration, word for word (model arguments, then trainer
# settings; groups as tables of the fields they change, as build_model and configuration
# files take them): the ablation in docs/lastfm_social.md measures it against the defaults.
SPEC_AS_WRITTEN: tuple[dict, dict] = (
    {"num_layers": 2,
     "initial": {"als_reg": 1.0},
     "graph_tower": {"normalize": "row", "readout": "last"},
     "social": {"enabled": True, "num_layers": 2, "input": "base"},
     "head": {"enabled": True, "residual": "base", "beta": 0.2, "zero_init": False},
     "blend": {"mf": 0.0}},
    {"lr": 1e-3, "batch_size": 1024, "epochs": 50, "eval_every": 1, "patience": 10},
)


@register("lite_eiisrs")
class LiteEIISRS(EmbeddingRecommender):
    r"""Lite-EIISRS, graphrec's social recommender (from the project's design document).

    Every part of the design is here and switchable; the **defaults are the configuration
    that measured best on LastFM** (docs/lastfm_social.md), and
    :data:`SPEC_AS_WRITTEN` is the design document's own. The defaults keep what helped
    and switch off what hurt, measured on validation:

    * the MF/SVD start of :math:`U^{(0)}, V^{(0)}` (1.) under a LightGCN tower (3.,
      symmetric, layer mean) — the gain over LightGCN comes from here;
    * the fixed MF factors blended into the score at inference (``blend.mf=0.1``):
      :math:`\hat y = s/\sigma + 0.1\, s_{MF}/\sigma_{MF}`, each channel scaled by the
      standard deviation of its scores on a fixed sample of pairs. Training fits the
      learned part alone, so the closed-form factors, which were fitted to the training
      pairs, cannot teach the model to trust them more than unseen pairs warrant;
    * off by default: the attention fusion and output head (4.–5., ``head.enabled``), and
      the social tower (``social.enabled``). Trained end to end, the head's per-node inputs —
      among them the factor tokens fitted to the very pairs BPR trains on — let it fit the
      training pairs within ~10 epochs while validation falls; the social tower's
      learned :math:`W_s` lowered validation NDCG too. With ``head.enabled=True`` the
      head starts at zero (``head.zero_init``) on the graph tower's residual
      (``head.residual="graph"``, :math:`\beta = 1`), so it can only refine the tower.

    1. **Initial embeddings** from the training matrix :math:`R`: least-squares MF
       factors (:func:`~graphrec.models.factorization.als_factors`) and truncated-SVD
       factors :math:`\tilde U \Sigma^{1/2}, \tilde V \Sigma^{1/2}`
       (:func:`~graphrec.models.factorization.svd_factors`), each rescaled by one constant
       so its entries have standard deviation ``initial.scale`` (directions and relative
       norms kept). :math:`U^{(0)}, V^{(0)}` — the one learnable table per node type — start
       from their mean (``initial.combine="mean"``) or concatenation; the factors
       themselves stay fixed as the :math:`u_{MF}, u_{SVD}` fusion tokens
       (``initial.finetune_tokens=True`` makes them learnable copies instead).
    2. **Statistical features** (:func:`~graphrec.graph.features.activity_features`:
       degree, total listening weight, tagging frequency, time-decayed activity; z-scored)
       through :class:`FeatureMLP` (``fusion.use_features``).
    3. **Towers** on :math:`U^{(0)}, V^{(0)}`: ``num_layers`` layers of
       :class:`~graphrec.nn.LightGCNConv` — the seed's row-normalised variant with residual
       (``graph_tower.normalize="row"``), :math:`U^{(l+1)} = D_u^{-1} R V^{(l)} + \alpha
       U^{(0)}`, :math:`V^{(l+1)} = D_i^{-1} R^\top U^{(l)} + \alpha V^{(0)}`, or
       LightGCN's symmetric :math:`D^{-1/2} A D^{-1/2}` (``"sym"``) — read out as the last
       layer (:math:`U^{(L)}`, ``graph_tower.readout="last"``) or the mean of layers
       :math:`0..L` (``"mean"``, as LightGCN). Then ``social.num_layers``
       :class:`~graphrec.nn.SocialConv` layers on the users: on :math:`U^{(0)}`
       (``social.input="base"``) or on the graph tower's user output (``"graph"``).
    4. **Fusion** (:class:`TokenFusion`): the seed leaves open what attends to what; here
       the sources of one node are that node's tokens — five for a user
       :math:`[u_{MF}, u_{SVD}, F_u, U^{(L)}, U_s^{(L_s)}]`, four for an item (no social) —
       each projected to width ``fusion.token_dim``, with 2-head self-attention among them
       and a residual. Shapes: users ``[U, 5, token_dim]`` → ``[U, 5 * token_dim]``.
    5. **Output** (:class:`OutputHead`): :math:`u = \mathrm{MLP}([U^{(0)} \| U_{fused}]) +
       \beta U^{(0)}`, items likewise; score :math:`u^\top v`. ``head.residual="graph"``
       puts the graph tower's output in the residual instead of :math:`U^{(0)}`.
    6. **Loss**: BPR (or the sampled softmax, ``loss="sampled_softmax"``) + ``reg_weight``
       times the L2 penalty on the batch's rows of :math:`U^{(0)}, V^{(0)}`
       (:class:`~graphrec.models.base.EmbeddingRecommender`); the dense weights take the
       trainer's ``weight_decay``. Under the cosine softmax the learned part's embeddings
       are L2-normalised before the blend's channels are appended.

    Every part can be switched off for ablations (``initial.use_mf``, ``initial.use_svd``,
    ``fusion.use_features``, ``social.enabled``, ``fusion.use_attention``); with neither MF
    nor SVD, :math:`U^{(0)}` starts random (:math:`\mathcal{N}(0, \text{scale}^2)`) and
    there are no factor tokens. The dense heads (fusion and output) run only on the rows a
    training batch needs; the sparse towers run on the whole graph once per step.

    Args:
        num_users, num_items: index space sizes.
        edge_index: ``[2, E]`` training (user, item) pairs.
        social_edge_index: ``[2, S]`` user pairs in message direction (``None``: no social).
        user_features, item_features: ``[N, F]`` statistical features (``None``: none).
        embedding_dim: width of each factorisation (and of :math:`U^{(0)}` with ``"mean"``).
        num_layers: :math:`L`, the graph tower's layers.
        initial: the MF/SVD start (:class:`InitialEmbeddingSettings`).
        graph_tower: the LightGCN tower's variant (:class:`GraphTowerSettings`).
        social: the social tower (:class:`SocialTowerSettings`).
        fusion: the feature token and the attention fusion (:class:`FusionSettings`).
        head: the output heads (:class:`HeadSettings`).
        blend: the factor channels blended in at inference (:class:`BlendSettings`; kept
            as ``blend_settings``, ``blend`` being the weights in use).
        seed: seeds the factorisations and the blend's sample of pairs.
        reg_weight: L2 weight on the batch's rows of :math:`U^{(0)}, V^{(0)}`.
        loss, num_negatives, temperature, in_batch, logq, similarity: the training
            objective, as :class:`~graphrec.models.base.EmbeddingRecommender`.
    """

    # graphrec's tuned configuration (docs/lastfm_social.md): converges in about 80 epochs
    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 5e-3, "batch_size": 2048, "epochs": 300, "eval_every": 1, "patience": 20,
        "lr_decay": 0.5, "lr_patience": 10}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        edge_index: Tensor,
        social_edge_index: Tensor | None = None,
        user_features: Tensor | None = None,
        item_features: Tensor | None = None,
        embedding_dim: int = 64,
        num_layers: int = 3,
        initial: InitialEmbeddingSettings = InitialEmbeddingSettings(),
        graph_tower: GraphTowerSettings = GraphTowerSettings(),
        social: SocialTowerSettings = SocialTowerSettings(),
        fusion: FusionSettings = FusionSettings(),
        head: HeadSettings = HeadSettings(),
        blend: BlendSettings = BlendSettings(),
        seed: int = 0,
        reg_weight: float = 1e-4,
        loss: str = "bpr",
        num_negatives: int | None = None,
        temperature: float = 0.1,
        in_batch: bool = True,
        logq: bool = True,
        similarity: str = "cosine",
    ) -> None:
        super().__init__(num_users, num_items, reg_weight, loss, num_negatives, temperature,
                         in_batch, logq, similarity)
        check_number("embedding_dim", embedding_dim, integer=True, low=1)
        check_number("num_layers", num_layers, integer=True, low=0)
        self.initial = check_group("initial", initial, InitialEmbeddingSettings)
        self.graph_tower = check_group("graph_tower", graph_tower, GraphTowerSettings)
        self.social = check_group("social", social, SocialTowerSettings)
        self.fusion = check_group("fusion", fusion, FusionSettings)
        self.head = check_group("head", head, HeadSettings)
        self.blend_settings = check_group("blend", blend, BlendSettings)
        edge_index = check_edge_index(edge_index, self.num_users, self.num_items)
        if social_edge_index is not None:
            social_edge_index = check_edge_index(social_edge_index, self.num_users,
                                                 self.num_users, "social_edge_index", "user")
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.seed = seed
        self.blend = {name: weight for name, weight in (("mf", blend.mf), ("svd", blend.svd))
                      if weight > 0}
        self.factors = [name for name, on in (("mf", initial.use_mf), ("svd", initial.use_svd))
                        if on]
        missing = set(self.blend) - set(self.factors)
        if missing:
            raise ValueError(f"blending {sorted(missing)} needs that factorisation switched on")
        self.use_features = fusion.use_features and user_features is not None
        self.use_social = (social.enabled and social_edge_index is not None
                           and social.num_layers > 0)
        combined = len(self.factors) if initial.combine == "concat" and self.factors else 1
        self.base_dim = base_dim = embedding_dim * combined
        self.user_base = nn.Embedding(num_users, base_dim)
        self.item_base = nn.Embedding(num_items, base_dim)
        for name in self.factors:  # the fusion tokens: fixed factors or learnable copies
            for kind, count in (("user", num_users), ("item", num_items)):
                table = torch.zeros(count, embedding_dim)
                if initial.finetune_tokens:
                    self.register_parameter(f"{kind}_{name}", nn.Parameter(table))
                else:
                    self.register_buffer(f"{kind}_{name}", table)

        self.register_buffer("train_edge_index", edge_index, persistent=False)
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("blend_pairs", torch.stack([
            torch.randint(num_users, (1 << 16,), generator=generator),
            torch.randint(num_items, (1 << 16,), generator=generator)]), persistent=False)
        self.register_buffer("graph_edge_index", bipartite_edge_index(edge_index, num_users),
                             persistent=False)
        self.conv = LightGCNConv(normalize=graph_tower.normalize,
                                 alpha=(graph_tower.residual_alpha
                                        if graph_tower.normalize == "row" else 0.0))
        if self.use_social:
            self.register_buffer("social_edge_index", social_edge_index, persistent=False)
            self.social_convs = nn.ModuleList(
                SocialConv(base_dim, dropout=social.dropout) for _ in range(social.num_layers))
        if self.use_features:
            self.register_buffer("user_features", user_features.float(), persistent=False)
            self.register_buffer("item_features", item_features.float(), persistent=False)
            self.user_feature_mlp = FeatureMLP(user_features.size(1), fusion.feature_hidden,
                                               embedding_dim)
            self.item_feature_mlp = FeatureMLP(item_features.size(1), fusion.feature_hidden,
                                               embedding_dim)

        token_dims = [embedding_dim] * len(self.factors)
        feature_dims = [embedding_dim] if self.use_features else []
        user_dims = token_dims + feature_dims + [base_dim] + ([base_dim] if self.use_social else [])
        item_dims = token_dims + feature_dims + [base_dim]
        self.user_fusion = TokenFusion(user_dims, fusion.token_dim, fusion.num_heads,
                                       fusion.use_attention)
        self.item_fusion = TokenFusion(item_dims, fusion.token_dim, fusion.num_heads,
                                       fusion.use_attention)
        self.user_head = OutputHead(base_dim, self.user_fusion.out_channels, head.beta,
                                    head.dropout)
        self.item_head = OutputHead(base_dim, self.item_fusion.out_channels, head.beta,
                                    head.dropout)
        self.reset_parameters()
        if initial.freeze:
            self.user_base.weight.requires_grad_(False)
            self.item_base.weight.requires_grad_(False)

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
        """Re-initialises every module: the factor tokens and :math:`U^{(0)}, V^{(0)}` from
        MF and SVD of the training matrix (random without either)."""
        train = Interactions(self.train_edge_index.cpu(), self.num_users, self.num_items)
        user_parts, item_parts = [], []
        for name in self.factors:
            if name == "mf":
                users, items = als_factors(train, self.embedding_dim, self.initial.als_reg,
                                           seed=self.seed)
            else:
                users, items = svd_factors(train, self.embedding_dim, seed=self.seed)
            users, items = torch.as_tensor(users).float(), torch.as_tensor(items).float()
            scale = self.initial.scale / torch.cat([users, items]).std().clamp(min=1e-12)
            user_parts.append(users * scale)
            item_parts.append(items * scale)
            getattr(self, f"user_{name}").copy_(user_parts[-1])
            getattr(self, f"item_{name}").copy_(item_parts[-1])
        if not self.factors:
            generator = torch.Generator().manual_seed(self.seed)
            user_parts = [torch.randn(self.num_users, self.base_dim, generator=generator)
                          * self.initial.scale]
            item_parts = [torch.randn(self.num_items, self.base_dim, generator=generator)
                          * self.initial.scale]
        for table, parts in ((self.user_base, user_parts), (self.item_base, item_parts)):
            table.weight.copy_(torch.cat(parts, -1) if self.initial.combine == "concat"
                               else torch.stack(parts).mean(0))
        modules = [self.user_fusion, self.item_fusion, self.user_head, self.item_head]
        if self.use_features:
            modules += [self.user_feature_mlp, self.item_feature_mlp]
        if self.use_social:
            modules += list(self.social_convs)
        for module in modules:
            for child in module.modules():
                if child is not module and hasattr(child, "reset_parameters"):
                    child.reset_parameters()
        if self.head.zero_init:  # the heads start as the residual alone
            for head in (self.user_head, self.item_head):
                nn.init.zeros_(head.mlp[-1].weight)
                nn.init.zeros_(head.mlp[-1].bias)
        self.conv.reset_parameters()

    def towers(self) -> dict[str, Tensor]:
        """Whole-graph parts: the graph tower's and the social tower's outputs."""
        x0 = torch.cat([self.user_base.weight, self.item_base.weight])
        x, total = x0, x0
        for _ in range(self.num_layers):
            x = self.conv(x, self.graph_edge_index, x0=x0)
            total = total + x
        if self.graph_tower.readout == "mean":
            x = total / (self.num_layers + 1)
        out = {"user_graph": x[: self.num_users], "item_graph": x[self.num_users:]}
        if self.use_social:
            social = (out["user_graph"] if self.social.input == "graph"
                      else self.user_base.weight)
            for conv in self.social_convs:
                social = conv(social, self.social_edge_index)
            out["user_social"] = social
        return out

    def _head(self, kind: str, towers: dict[str, Tensor], rows: Tensor | None) -> Tensor:
        def take(x: Tensor) -> Tensor:
            return x if rows is None else x[rows]

        sources = [take(getattr(self, f"{kind}_{name}")) for name in self.factors]
        if self.use_features:
            mlp = self.user_feature_mlp if kind == "user" else self.item_feature_mlp
            features = self.user_features if kind == "user" else self.item_features
            sources.append(mlp(take(features)))
        sources.append(take(towers[f"{kind}_graph"]))
        if kind == "user" and self.use_social:
            sources.append(take(towers["user_social"]))
        fusion = self.user_fusion if kind == "user" else self.item_fusion
        head = self.user_head if kind == "user" else self.item_head
        base = self.user_base if kind == "user" else self.item_base
        residual = take(towers[f"{kind}_graph"]) if self.head.residual == "graph" else None
        if not self.head.enabled:  # the residual path alone; the social tower refines it
            if kind == "user" and self.use_social and self.social.input == "graph":
                residual = take(towers["user_social"])
            return head.beta * (take(base.weight) if residual is None else residual)
        return head(take(base.weight), fusion(sources), residual)

    def forward(self) -> tuple[Tensor, Tensor]:
        towers = self.towers()
        users, items = self._head("user", towers, None), self._head("item", towers, None)
        return self._blend(*self.output(users, items))

    def _blend(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        r"""Eval mode with blend weights: appends the fixed factor channels so that
        :math:`u^\top v = s/\sigma + \sum_c w_c s_c/\sigma_c`."""
        if self.training or not self.blend:
            return users, items
        pair_users, pair_items = self.blend_pairs
        user_parts, item_parts = [], []
        for name, weight in (("main", 1.0), *self.blend.items()):
            u = users if name == "main" else getattr(self, f"user_{name}")
            v = items if name == "main" else getattr(self, f"item_{name}")
            # one scale per channel from a fixed sample of pairs: scores of different
            # channels become comparable, so the weights mean the same in every run
            std = (u[pair_users] * v[pair_items]).sum(-1).std().clamp(min=1e-12)
            factor = (weight / std).sqrt()
            user_parts.append(u * factor)
            item_parts.append(v * factor)
        return torch.cat(user_parts, -1), torch.cat(item_parts, -1)

    def embed(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        """The learned part's embeddings of these rows (what the loss trains; no blend)."""
        towers = self.towers()
        unique_users, user_pos = torch.unique(users, return_inverse=True)
        unique_items, item_pos = torch.unique(items, return_inverse=True)
        users, items = self.output(self._head("user", towers, unique_users),
                                   self._head("item", towers, unique_items))
        return users[user_pos], items[item_pos]

    def ego_embeddings(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        return self.user_base(users), self.item_base(items)

    def __repr__(self) -> str:
        parts = "+".join(self.factors or ["id"]) + ("+features" if self.use_features else "") + (
            "+social" if self.use_social else "") + (
            "+attention" if self.user_fusion.use_attention else "")
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, parts={parts})")
