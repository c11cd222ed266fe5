"""Layer-0 item representations from features, tag bags and a masked id embedding."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ItemInput(nn.Module):
    r"""Layer-0 item representations: projected features, a weighted bag of tags and,
    optionally, an id embedding that only items with training interactions use.

    .. math::
        \mathbf{h}^{(0)}_v = \mathbf{P}\mathbf{x}_v + \sum_t \beta_{vt}\,\mathbf{e}_t
            + m_v\,\mathbf{e}_v

    with dense features :math:`\mathbf{x}_v` (e.g. MovieLens genres and year), a bag of the
    item's top tags weighted by their share :math:`\beta_{vt}` (LastFM), and an id embedding
    masked by :math:`m_v = 1` only for items with training interactions (the ``warm``
    buffer, all ones until a model sets it): an item that only has features (a cold item)
    is represented by its features, never by an untrained id row. PinSAGE's input layer
    (`Ying et al., KDD 2018 <https://arxiv.org/abs/1806.01973>`_, with graphrec's masked id
    embedding); :func:`~graphrec.graph.item_features.item_input_features` makes ``x`` and
    ``tags`` from a graph.

    Args:
        num_items: :math:`|\mathcal{I}|`.
        embedding_dim: output width :math:`d`.
        x: ``[num_items, F]`` dense features (``None``: none).
        tags: ``(index [num_items, T], weight [num_items, T], num_tags)`` (a
            :class:`~graphrec.graph.item_features.TagBags`; padding tag ``num_tags`` with
            weight 0; ``None``: no tags).
        use_id_embedding: add the masked id embedding.

    Shapes:
        - forward: ``items [N]`` (and ``drop_id [N]``, boolean) → ``[N, d]``.
    """

    def __init__(self, num_items: int, embedding_dim: int, x: Tensor | None = None,
                 tags: tuple[Tensor, Tensor, int] | None = None,
                 use_id_embedding: bool = True) -> None:
        super().__init__()
        self.num_items, self.embedding_dim = num_items, embedding_dim
        self.lin = None if x is None else nn.Linear(x.size(1), embedding_dim)
        self.register_buffer("x", None if x is None else x.float(), persistent=False)
        self.tag_embedding = None
        if tags is not None:
            tag_index, tag_weight, num_tags = tags
            self.tag_embedding = nn.EmbeddingBag(num_tags + 1, embedding_dim, mode="sum",
                                                 padding_idx=num_tags)
            self.register_buffer("tag_index", tag_index, persistent=False)
            self.register_buffer("tag_weight", tag_weight, persistent=False)
        self.id_embedding = nn.Embedding(num_items, embedding_dim) if use_id_embedding else None
        self.register_buffer("warm", torch.ones(num_items, 1))
        if self.lin is None and self.tag_embedding is None and self.id_embedding is None:
            raise ValueError("ItemInput needs item features, tags or an id embedding (the "
                             "graph has no item features or tags and use_id_embedding is "
                             "False)")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.lin is not None:
            self.lin.reset_parameters()
        if self.tag_embedding is not None:
            nn.init.normal_(self.tag_embedding.weight, std=0.1)
            with torch.no_grad():
                self.tag_embedding.weight[-1].zero_()
        if self.id_embedding is not None:
            nn.init.normal_(self.id_embedding.weight, std=0.1)

    def forward(self, items: Tensor, drop_id: Tensor | None = None) -> Tensor:
        """``[len(items), d]``; ``drop_id`` (boolean, like ``items``) treats those items as
        cold: their id embedding is left out."""
        out = 0
        if self.lin is not None:
            out = out + self.lin(self.x[items])
        if self.tag_embedding is not None:
            out = out + self.tag_embedding(self.tag_index[items],
                                           per_sample_weights=self.tag_weight[items])
        if self.id_embedding is not None:
            mask = self.warm[items]
            if drop_id is not None:
                mask = mask * (~drop_id).unsqueeze(1).to(mask.dtype)
            out = out + self.id_embedding(items) * mask
        return out

    def __repr__(self) -> str:
        parts = [name for name, on in (("features", self.lin is not None),
                                       ("tags", self.tag_embedding is not None),
                                       ("id", self.id_embedding is not None)) if on]
        return (f"{self.__class__.__name__}({self.num_items}, {self.embedding_dim}, "
                f"inputs={'+'.join(parts)})")
