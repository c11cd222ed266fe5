"""The item embedding table shared by graph and sequence models."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from graphrec.graph.sequences import PADDING


class ItemEmbedding(nn.Module):
    r"""One row per item of the interaction graph: :math:`\mathbf{E} \in
    \mathbb{R}^{|\mathcal{I}| \times d}`, row :math:`i` = graph item index :math:`i`.

    Graph models (:class:`~graphrec.models.MF`, :class:`~graphrec.models.LightGCN`) and
    sequence models (:class:`~graphrec.models.SASRec`, :class:`~graphrec.models.TiSASRec`)
    accept this module at construction; passing the same object to two models makes them
    share the parameter, so a trained LightGCN's items can warm-start SASRec, or both losses
    can train the table jointly.

    Padding is reconciled here, once: sequence tensors mark empty slots with
    :data:`~graphrec.graph.sequences.PADDING` (``-1``), which is *not* a row of the table
    (graph item indices keep their meaning, ``weight`` has exactly ``num_items`` rows);
    :meth:`forward` returns a zero vector for it, and no gradient flows from it.

    Models that receive a table do not re-initialise it (its initialisation belongs to it:
    :meth:`reset_parameters`), so a warm-started table keeps its values.

    Args:
        num_items: :math:`|\mathcal{I}|`.
        embedding_dim: :math:`d`.
        init_std: rows start from :math:`\mathcal{N}(0, \sigma^2)`; ``None``: Xavier-normal,
            :math:`\sigma = \sqrt{2 / (|\mathcal{I}| + d)}` (the SASRec authors' code).

    Shapes:
        - forward: any integer shape ``[*]`` with values in ``[-1, num_items)`` →
          ``[*, d]``.
    """

    def __init__(self, num_items: int, embedding_dim: int, init_std: float | None = 0.1
                 ) -> None:
        super().__init__()
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.init_std = init_std
        self.weight = nn.Parameter(torch.empty(num_items, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_normal_(self.weight, self.init_std)

    def forward(self, items: Tensor) -> Tensor:
        is_item = items != PADDING
        rows = self.weight[items.clamp(min=0)]
        return rows * is_item.unsqueeze(-1).to(rows.dtype)

    @torch.no_grad()
    def load_(self, weight: Tensor) -> ItemEmbedding:
        """Copies ``weight`` ``[num_items, d]`` into the table (warm start); returns self."""
        if tuple(weight.shape) != tuple(self.weight.shape):
            raise ValueError(f"weight must have shape {tuple(self.weight.shape)} "
                             f"(got {tuple(weight.shape)})")
        self.weight.copy_(weight)
        return self

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.num_items}, {self.embedding_dim})"


def init_normal_(weight: Tensor, std: float | None) -> Tensor:
    r"""Fills ``weight`` from :math:`\mathcal{N}(0, \sigma^2)`: ``std``, or Xavier-normal's
    :math:`\sigma = \sqrt{2 / (\text{rows} + \text{columns})}` when ``std`` is ``None``."""
    if std is None:
        return nn.init.xavier_normal_(weight)
    return nn.init.normal_(weight, std=std)


def check_shared_table(table: ItemEmbedding | None, num_items: int, embedding_dim: int) -> bool:
    """Whether a model was given a shared table; raises if its shape does not fit the model."""
    if table is None:
        return False
    if (table.num_items, table.embedding_dim) != (num_items, embedding_dim):
        raise ValueError(f"item_embedding is {table.num_items} x {table.embedding_dim}; the "
                         f"model needs {num_items} x {embedding_dim}")
    return True
