"""MIND's behaviour-to-interest (B2I) dynamic routing and label-aware attention."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def squash(z: Tensor, eps: float = 1e-9) -> Tensor:
    r"""The capsule non-linearity :math:`\mathrm{squash}(\mathbf{z}) =
    \frac{\lVert\mathbf{z}\rVert^2}{1 + \lVert\mathbf{z}\rVert^2}
    \frac{\mathbf{z}}{\lVert\mathbf{z}\rVert}` over the last dimension: the direction is
    kept and the norm mapped into :math:`[0, 1)` (a zero vector stays zero)."""
    norm2 = z.pow(2).sum(-1, keepdim=True)
    return z * (norm2 / (1.0 + norm2) / torch.sqrt(norm2 + eps))


def adaptive_num_interests(lengths: Tensor, max_interests: int) -> Tensor:
    r"""MIND's per-user number of interests :math:`K'_u = \max(1, \min(K,
    \lfloor\log_2 |\mathcal{I}_u|\rfloor))` for ``[B]`` history lengths.

    The paper writes :math:`\log_2 |\mathcal{I}_u|` without saying how a fraction becomes a
    count; it is rounded down here (3 items: 1 interest, 4 to 7 items: 2, 8 to 15: 3, ...).
    An empty history gets 1."""
    log2 = torch.floor(torch.log2(lengths.clamp(min=1).double())).long()
    return log2.clamp(min=1, max=max_interests)


def label_aware_attention(interests: Tensor, target: Tensor, p: float,
                          interest_mask: Tensor | None = None) -> Tensor:
    r"""MIND's label-aware attention (Li et al., 2019, eq. 7): the training-time user vector
    for a target item,

    .. math::
        \mathbf{v}_u = \mathbf{V}_u\,
        \mathrm{softmax}\big(\mathrm{pow}(\mathbf{V}_u^\top \mathbf{e}_{\text{target}},
        p)\big),

    the interests :math:`\mathbf{V}_u` weighted by a softmax over interests of their inner
    products with the target raised to the power :math:`p` (elementwise, literally as in the
    paper and its reference implementations: ``p = 0`` averages the interests). ``p`` must
    be a non-negative integer or ``inf``: a fractional power of a negative inner product is
    undefined. The literal power keeps the paper's behaviour on negative products: with an
    odd ``p`` larger ``p`` approaches picking the interest with the largest product, but an
    even ``p`` (the default 2) ranks by :math:`|\mathbf{V}_u^\top\mathbf{e}|`, so an
    interest pointing away from the target can outweigh one pointing at it. ``p = inf``
    picks the largest product (the limit of the odd powers).

    Args:
        interests: ``[B, K, d]``.
        target: ``[B, d]`` target item embeddings.
        p: the power.
        interest_mask: ``[B, K]`` bool, interests that exist (adaptive :math:`K'`); others
            get no weight.

    Returns:
        ``[B, d]``.
    """
    check_power(p)
    logits = (interests * target.unsqueeze(1)).sum(-1)  # [B, K]
    if math.isinf(p):
        if interest_mask is not None:
            logits = logits.masked_fill(~interest_mask, float("-inf"))
        weight = nn.functional.one_hot(logits.argmax(1), interests.size(1)).to(interests.dtype)
    else:
        logits = logits.pow(int(p))
        if interest_mask is not None:
            logits = logits.masked_fill(~interest_mask, float("-inf"))
        weight = torch.softmax(logits, dim=1)
    return (weight.unsqueeze(-1) * interests).sum(1)


def check_power(p: float) -> float:
    """``p`` of :func:`label_aware_attention`: a non-negative integer or ``inf``."""
    if isinstance(p, bool) or not isinstance(p, int | float) or not (
            math.isinf(p) and p > 0 or (p >= 0 and float(p).is_integer())):
        raise ValueError(f"pow_p must be a non-negative integer or inf (got {p!r})")
    return p


class InterestRouting(nn.Module):
    r"""Behaviour-to-interest dynamic routing of MIND, from `"Multi-Interest Network with
    Dynamic Routing for Recommendation at Tmall" <https://arxiv.org/abs/1904.08030>`_
    (Li et al., CIKM 2019), Algorithm 1.

    A user's behaviours :math:`\mathbf{e}_i` (the items of the history) are mapped by one
    bilinear matrix :math:`\mathbf{S}` shared by all interests, and routed to :math:`K'`
    interest capsules :math:`\mathbf{u}_j` for a fixed number of iterations :math:`R`:

    .. math::
        \hat{\mathbf{e}}_i = \mathbf{S}\mathbf{e}_i, \qquad
        w_{ij} = \frac{\exp b_{ij}}{\sum_{k=1}^{K'} \exp b_{ik}}, \qquad
        \mathbf{u}_j = \mathrm{squash}\Big(\sum_i w_{ij}\hat{\mathbf{e}}_i\Big), \qquad
        b_{ij} \leftarrow b_{ij} + \mathbf{u}_j^\top \hat{\mathbf{e}}_i,

    so the coupling coefficients :math:`w_{ij}` of each behaviour sum to 1 over the
    interests. The routing logits start from :math:`b_{ij} \sim \mathcal{N}(0, \sigma^2)`,
    not zero: with a shared :math:`\mathbf{S}` and zero logits every capsule would receive
    the same input and stay identical. They are drawn once (``reset_parameters``) into a
    ``[maxlen, K]`` buffer indexed by the behaviour's position counted from the latest
    item, rather than redrawn per call, so that scores are deterministic and a saved model
    ranks as the trained one did; this is what torch-rechub and DeepMatch do too. Inputs are
    right-aligned (the latest behaviour in the last column), so extra left padding changes
    nothing.

    With ``adaptive=True`` user :math:`u` has :math:`K'_u = \max(1, \min(K, \lfloor\log_2
    |\mathcal{I}_u|\rfloor))` interests (:func:`adaptive_num_interests`); the others are
    left out of the softmax and returned as zero vectors with ``interest_mask`` false.

    Args:
        in_channels: width of the behaviour embeddings.
        out_channels: width of the interest capsules.
        num_interests: :math:`K`.
        iterations: :math:`R` routing iterations.
        maxlen: the longest history the layer routes (rows of the routing-logit buffer).
        init_std: :math:`\sigma` of the initial routing logits.
        adaptive: per-user :math:`K'_u` (else every user has :math:`K`).

    Shapes:
        - input: behaviours ``[B, T, in_channels]``, ``mask`` ``[B, T]`` bool (true where
          a behaviour is; at most ``maxlen`` behaviours per row).
        - output: interests ``[B, K, out_channels]``, interest mask ``[B, K]``, and with
          ``return_coupling=True`` the coupling coefficients ``[B, T, K]`` of the last
          iteration (zero rows at padding).
    """

    def __init__(self, in_channels: int, out_channels: int, num_interests: int = 4,
                 iterations: int = 3, maxlen: int = 50, init_std: float = 1.0,
                 adaptive: bool = True) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("num_interests", num_interests), ("iterations", iterations),
                            ("maxlen", maxlen)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if not init_std > 0:
            raise ValueError(f"init_std must be > 0 (got {init_std!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_interests = num_interests
        self.iterations = iterations
        self.maxlen = maxlen
        self.init_std = float(init_std)
        self.adaptive = adaptive
        self.bilinear = nn.Parameter(torch.empty(in_channels, out_channels))
        self.register_buffer("routing_init", torch.empty(maxlen, num_interests))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.bilinear)
        nn.init.normal_(self.routing_init, std=self.init_std)

    def num_active(self, mask: Tensor) -> Tensor:
        """``[B]`` interests per user: :math:`K'_u` (adaptive) or :math:`K`."""
        lengths = mask.sum(1)
        if self.adaptive:
            return adaptive_num_interests(lengths, self.num_interests)
        return torch.full_like(lengths, self.num_interests)

    def forward(self, x: Tensor, mask: Tensor, return_coupling: bool = False
                ) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
        if x.dim() != 3 or x.size(-1) != self.in_channels:
            raise ValueError(f"x must be [B, T, {self.in_channels}] (got {tuple(x.shape)})")
        if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool [B, T] = {tuple(x.shape[:2])} tensor "
                             f"(got {mask.dtype} {tuple(mask.shape)})")
        length = x.size(1)
        if length > self.maxlen:  # leading columns that are padding everywhere can go
            if mask[:, :length - self.maxlen].any():
                raise ValueError(f"histories of {int(mask.sum(1).max())} items exceed "
                                 f"maxlen={self.maxlen}")
            x, mask, length = x[:, -self.maxlen:], mask[:, -self.maxlen:], self.maxlen
        interest_mask = (torch.arange(self.num_interests, device=x.device).unsqueeze(0)
                         < self.num_active(mask).unsqueeze(1))  # [B, K]
        mapped = (x @ self.bilinear) * mask.unsqueeze(-1).to(x.dtype)  # [B, T, d], 0 at pad
        logits = self.routing_init[self.maxlen - length:].unsqueeze(0).expand(
            x.size(0), -1, -1).to(x.dtype)  # [B, T, K]
        blocked = ~interest_mask.unsqueeze(1)
        behaviour = mask.unsqueeze(-1).to(x.dtype)
        for iteration in range(self.iterations):
            coupling = torch.softmax(logits.masked_fill(blocked, float("-inf")), dim=-1)
            coupling = coupling * behaviour  # padding sends nothing
            interests = squash(torch.einsum("btk,btd->bkd", coupling, mapped))
            if iteration + 1 < self.iterations:
                logits = logits + torch.einsum("bkd,btd->btk", interests, mapped)
        interests = interests * interest_mask.unsqueeze(-1).to(interests.dtype)
        if return_coupling:
            return interests, interest_mask, coupling
        return interests, interest_mask

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_interests={self.num_interests}, iterations={self.iterations}, "
                f"adaptive={self.adaptive})")
