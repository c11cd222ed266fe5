"""The MLP tower of neural collaborative filtering."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class NCFTower(nn.Module):
    r"""The MLP tower of NCF, from `"Neural Collaborative Filtering"
    <https://arxiv.org/abs/1708.05031>`_ (He et al., WWW 2017), Eq. 10:

    .. math::
        \mathbf{z}_1 = [\mathbf{p}_u \,\Vert\, \mathbf{q}_i], \qquad
        \mathbf{z}_{l+1} = \mathrm{ReLU}(\mathbf{W}_l \mathbf{z}_l + \mathbf{b}_l),
        \quad l = 1, \dots, L

    as a pyramid: every layer halves the width, so the tower ends at ``out_channels``
    predictive factors from an input of :math:`2^L` times that (the paper's
    ``[64, 32, 16, 8]`` is ``out_channels=8, num_layers=3``: user and item embeddings of
    32). The last layer keeps its ReLU (the prediction layer of the model follows).

    The first layer is applied to the two halves separately,
    :math:`\mathbf{W}_1 [\mathbf{p}; \mathbf{q}] = \mathbf{W}_1^{u} \mathbf{p} +
    \mathbf{W}_1^{i} \mathbf{q}`, so that scoring a user against all items
    (:meth:`forward_all`) projects each user and each item once instead of every pair.

    Args:
        out_channels: predictive factors :math:`d_L` (width of the last layer).
        num_layers: :math:`L \ge 1` hidden layers.
        dropout: dropout after every ReLU (0 in the paper).

    Shapes:
        - **input:** user rows ``[*, in_channels // 2]`` and item rows of the same shape
          (``in_channels = out_channels * 2**num_layers``)
        - **output:** ``[*, out_channels]``
    """

    def __init__(self, out_channels: int, num_layers: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(out_channels, int) or out_channels < 1:
            raise ValueError(f"out_channels must be a positive integer (got {out_channels!r})")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer (got {num_layers!r})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1) (got {dropout!r})")
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.in_channels = out_channels * 2 ** num_layers
        self.embedding_dim = self.in_channels // 2  # each of user and item
        widths = [self.in_channels // 2 ** layer for layer in range(num_layers + 1)]
        self.lins = nn.ModuleList(nn.Linear(a, b)
                                  for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()

    def _first(self, user: Tensor, item: Tensor | None) -> tuple[Tensor, Tensor]:
        """``(W^u p + b, W^i q)`` of the first layer (its two halves)."""
        half = self.embedding_dim
        weight, bias = self.lins[0].weight, self.lins[0].bias
        user_part = torch.nn.functional.linear(user, weight[:, :half], bias)
        item_part = (None if item is None
                     else torch.nn.functional.linear(item, weight[:, half:]))
        return user_part, item_part

    def _rest(self, hidden: Tensor) -> Tensor:
        hidden = self.dropout(hidden.relu())
        for lin in self.lins[1:]:
            hidden = self.dropout(lin(hidden).relu())
        return hidden

    def forward(self, user: Tensor, item: Tensor) -> Tensor:
        """``[*, out_channels]`` tower outputs of aligned user and item rows."""
        user_part, item_part = self._first(user, item)
        return self._rest(user_part + item_part)

    def forward_all(self, user: Tensor, item: Tensor) -> Tensor:
        """``[U, I, out_channels]`` outputs of every pair of ``user [U, h]`` and
        ``item [I, h]`` rows (the first layer projects each row once)."""
        user_part, item_part = self._first(user, item)
        # in-place ReLUs: scoring all items is memory-bound, each saved copy counts (the
        # ops they follow do not need their outputs for backward, so autograd is intact)
        hidden = self.dropout((user_part.unsqueeze(1) + item_part.unsqueeze(0)).relu_())
        for lin in self.lins[1:]:
            hidden = self.dropout(lin(hidden).relu_())
        return hidden

    def __repr__(self) -> str:
        widths = [self.in_channels // 2 ** layer for layer in range(self.num_layers + 1)]
        return f"{self.__class__.__name__}({widths})"
