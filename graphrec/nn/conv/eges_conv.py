"""EGES's attention over an item's id and side-information embeddings, as a
``MessagePassing`` layer."""

from typing import Optional, Union

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.conv import MessagePassing


class EGESConv(MessagePassing):
    r"""Enhanced Graph Embedding with Side information (EGES) aggregation, from
    `"Billion-scale Commodity Embedding for E-commerce Recommendation in Alibaba"
    <https://arxiv.org/abs/1803.02349>`_ (Wang et al., KDD 2018):

    .. math::
        \mathbf{H}_v = \frac{\sum_{j=0}^{n} e^{a_v^j}\, \mathbf{W}_v^j}
        {\sum_{j=0}^{n} e^{a_v^j}}

    where :math:`\mathbf{W}_v^0` is item :math:`v`'s id embedding, :math:`\mathbf{W}_v^j`
    (:math:`j \ge 1`) its embedding in side-information field :math:`j` and
    :math:`\mathbf{a}_v \in \mathbb{R}^{n+1}` learnable per-item attention logits. For a
    multi-valued field (several genres, tags) :math:`\mathbf{W}_v^j` is the *mean* of the
    embeddings of the item's values, computed by message passing from value nodes to items
    (``aggr="mean"``).

    Fields an item has no value in (and the id field of items flagged in ``has_id`` as
    having none) are left out of the softmax, so an item's weights always sum to 1 over the
    fields it has; an item with no field at all gets a zero vector.

    **Cold start.** An item without an id embedding (``has_id[v]`` false: it never occurred
    in training) also never had its logits :math:`\mathbf{a}_v` trained. Its weights are
    therefore the softmax, over its side-information fields, of the *mean* logits of the
    items that do have an id (the learned default attention of the catalogue).

    With ``attention=False`` all available fields get equal weight (GES, the paper's
    ablation): :math:`\mathbf{H}_v` is the plain mean of the available
    :math:`\mathbf{W}_v^j`.

    Args:
        num_items: number of items :math:`|\mathcal{V}|` (rows of :math:`\mathbf{A}`).
        num_fields: number of side-information fields :math:`n` (the id field is extra).
        attention: learn :math:`\mathbf{A} \in \mathbb{R}^{|\mathcal{V}| \times (n+1)}`
            (EGES) or use uniform weights (GES).
        **kwargs: passed to :class:`~torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** id embeddings :math:`(|\mathcal{V}|, d)`; a list of :math:`n` value
          embedding tables :math:`(|\mathcal{S}_j|, d)`; a list of :math:`n` edge indices
          :math:`(2, |\mathcal{E}_j|)` of (item, value) pairs (the ``('item', rel,
          field)`` edges of the graph, *item first*); optional ``has_id``
          :math:`(|\mathcal{V}|)` bool.
        - **output:** :math:`(|\mathcal{V}|, d)`, and with ``return_attention_weights``
          the weights :math:`(|\mathcal{V}|, n + 1)` (column 0: the id).
    """

    def __init__(self, num_items: int, num_fields: int, attention: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault("aggr", "mean")
        super().__init__(**kwargs)
        self.num_items = num_items
        self.num_fields = num_fields
        self.attention = Parameter(torch.empty(num_items, num_fields + 1)) if attention else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.attention is not None:
            # zero logits: training starts from GES (equal weights)
            torch.nn.init.zeros_(self.attention)

    def forward(
        self,
        x: Tensor,
        side_x: list[Tensor],
        edge_index: list[Tensor],
        has_id: Optional[Tensor] = None,
        index: Optional[Tensor] = None,
        default_from: Optional[Tensor] = None,
        return_attention_weights: bool = False,
    ) -> Union[Tensor, tuple[Tensor, Tensor]]:
        r"""Computes :math:`\mathbf{H}` for all items, or for the items ``index`` only
        (``[M]`` distinct item ids: rows of the output follow it; a training batch needs
        only its centres, and only their side edges are propagated).

        ``default_from`` (``[V]`` bool, default ``has_id``): the items whose mean logits
        the items without an id use (e.g. ``has_id`` all false and ``default_from`` the
        warm items embeds *every* item from side information alone, as a cold item)."""
        if len(side_x) != self.num_fields or len(edge_index) != self.num_fields:
            raise ValueError(f"expected {self.num_fields} side-information fields (got "
                             f"{len(side_x)} tables and {len(edge_index)} edge indices)")
        num_items = x.size(0)
        if has_id is None:
            has_id = torch.ones(num_items, dtype=torch.bool, device=x.device)
        has_id = has_id.to(x.device)
        logits = self.logits(has_id, default_from)
        if index is not None:
            position = torch.full((num_items,), -1, dtype=torch.long, device=x.device)
            position[index] = torch.arange(index.numel(), device=x.device)
            edge_index = [_restrict(edges, position) for edges in edge_index]
            x, has_id, logits = x[index], has_id[index], logits[index]
            num_items = index.numel()
        fields, present = [x], [has_id]
        for table, edges in zip(side_x, edge_index, strict=True):
            value_to_item = edges.flip(0)
            fields.append(self.propagate(value_to_item, x=(table, x),
                                         size=(table.size(0), num_items)))
            present.append(torch.bincount(edges[0], minlength=num_items) > 0)
        stacked = torch.stack(fields, 1)                       # [V, n + 1, d]
        available = torch.stack(present, 1)                    # [V, n + 1]
        masked = logits.to(x.device).masked_fill(~available, float("-inf"))
        # an item without any field has all -inf: softmax gives NaN, set to 0 weights
        weights = torch.nan_to_num(torch.softmax(masked, dim=1), nan=0.0).to(x.dtype)
        out = (weights.unsqueeze(-1) * stacked).sum(1)
        if return_attention_weights:
            return out, weights
        return out

    def logits(self, has_id: Optional[Tensor] = None,
               default_from: Optional[Tensor] = None) -> Tensor:
        r"""``[V, n + 1]`` attention logits; items without an id (cold start) get the mean
        logits of the items in ``default_from`` (default: those with an id); all zeros
        under ``attention=False``."""
        if self.attention is None:  # GES: equal logits
            device = None if has_id is None else has_id.device
            return torch.zeros(self.num_items, self.num_fields + 1, device=device)
        logits = self.attention
        if has_id is not None and bool((~has_id).any()):
            has_id = has_id.to(logits.device)
            source = has_id if default_from is None else default_from.to(logits.device)
            default = (logits[source].mean(0) if bool(source.any())
                       else logits.new_zeros(logits.size(1)))
            logits = torch.where(has_id.unsqueeze(1), logits, default.unsqueeze(0))
        return logits

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_items={self.num_items}, "
                f"num_fields={self.num_fields}, attention={self.attention is not None})")


def _restrict(edges: Tensor, position: Tensor) -> Tensor:
    """The (item, value) edges of the items with ``position >= 0``, items renumbered."""
    item = position[edges[0]]
    keep = item >= 0
    return torch.stack([item[keep], edges[1][keep]])
