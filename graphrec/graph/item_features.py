r"""Item inputs of feature-based models, read from the graph: dense item features, bags of
each item's top tags, and tag popularity.

PinSAGE (:class:`~graphrec.models.PinSAGE`) embeds an item from what the graph says about
it besides its interactions, so that an item without training interactions (a cold item)
still has an embedding. The graph holds that side information as the item store's ``x`` and
the ``('item', 'has_tag', 'tag')`` edges (``edge_weight`` = how often the tag was applied);
this module turns it into tensors a layer reads (:class:`~graphrec.nn.ItemInput`).

Why PinSAGE does not read the shared builder
(:func:`~graphrec.graph.feature_matrix.node_feature_matrix`, which EGES and SDM read through
:func:`~graphrec.graph.side_info.side_fields`): its inputs differ from the builder's
encodings, and PinSAGE's measured bars (``tests/models/test_pinsage_realdata.py``,
docs/models.md) were reached with these inputs.

* ``x`` goes as it is into a linear layer: MovieLens's genre flags weigh 1 each and the
  scaled release year enters as its value; the builder weighs a multi-hot field's values
  ``1 / count`` and encodes a numeric column as quantile bins, RBF bumps or a standardised
  value (a linear layer over ``x`` is not a sum of per-value embeddings of those).
* Tags: PinSAGE keeps each item's ``max_tags`` *most applied* tags weighted by their share
  of the tagging counts (``edge_weight``); the builder's relation field takes every tag at
  the same weight and ignores ``edge_weight``.
* :func:`tag_popularity` (log total tagging count) has no builder field.

Reading them through the builder would need builder options for raw 0/1 columns,
count-weighted top-k relations and such summaries; until it has them, this module stays.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import HAS_TAG, ITEM


class TagBags(NamedTuple):
    """Each item's top tags as a fixed-width bag (an ``nn.EmbeddingBag`` input).

    Attributes:
        index: ``[I, max_tags]`` tag ids; padding is tag ``num_tags``.
        weight: ``[I, max_tags]`` each tag's share of the item's kept tag counts (rows sum
            to 1, or are all 0 for an item without tags); 0 on padding.
        num_tags: the number of tags (the padding id).
    """

    index: Tensor
    weight: Tensor
    num_tags: int


def _tag_counts(graph: HeteroData) -> tuple[Tensor, Tensor, Tensor]:
    """``(item, tag, count)`` of the tagging edges (``count`` float64; 1 per edge without
    ``edge_weight``)."""
    store = graph[HAS_TAG]
    item, tag = store.edge_index
    count = store.get("edge_weight")
    # float64 either way: tag_popularity sums the counts into a float64 total
    count = (torch.ones(item.numel(), dtype=torch.float64) if count is None
             else count.double())
    return item, tag, count


def top_tags(graph: HeteroData, max_tags: int = 10) -> TagBags | None:
    """Each item's ``max_tags`` most applied tags and their L1-normalised counts, from
    ``('item', 'has_tag', 'tag')`` (``edge_weight`` = tagging count); ``None`` when the
    graph has no tags. Ties in the count are broken by the smaller tag id.

    Returns:
        :class:`TagBags` ``(index [I, max_tags], weight [I, max_tags], num_tags)``; padding
        is tag ``num_tags`` with weight 0.
    """
    if HAS_TAG not in graph.edge_types:
        return None
    num_items, num_tags = int(graph[ITEM].num_nodes), int(graph["tag"].num_nodes)
    item, tag, count = _tag_counts(graph)
    # sort by (item asc, count desc, tag asc): a tag's rank within its item is its column
    order = torch.sort(tag, stable=True).indices
    order = order[torch.sort(-count[order], stable=True).indices]
    order = order[torch.sort(item[order], stable=True).indices]
    item, tag, count = item[order], tag[order], count[order]
    degree = torch.bincount(item, minlength=num_items)
    rank = torch.arange(item.numel()) - (torch.cumsum(degree, 0) - degree)[item]
    keep = rank < max_tags
    tags = torch.full((num_items, max_tags), num_tags, dtype=torch.long)
    weights = torch.zeros(num_items, max_tags)
    tags[item[keep], rank[keep]] = tag[keep]
    weights[item[keep], rank[keep]] = count[keep].float()
    weights /= weights.sum(1, keepdim=True).clamp(min=1e-12)
    return TagBags(tags, weights, num_tags)


def tag_popularity(graph: HeteroData) -> Tensor | None:
    r"""Per item, :math:`\log(1 + c_v) / \max_{v'} \log(1 + c_{v'})` with :math:`c_v` the
    item's total tagging count in ``('item', 'has_tag', 'tag')`` (``[I, 1]``); ``None``
    without tags. Tagging is side information (who tagged an artist, not who listened), so
    items without training interactions have it too: it tells a cold item's embedding how
    much attention the item gets, which the L1-normalised tag bag of :func:`top_tags` drops.
    """
    if HAS_TAG not in graph.edge_types:
        return None
    item, _, count = _tag_counts(graph)
    total = torch.zeros(int(graph[ITEM].num_nodes), dtype=torch.float64).index_add_(
        0, item, count)
    value = torch.log1p(total)
    return (value / value.max().clamp(min=1e-12)).float().unsqueeze(1)


def item_input_features(graph: HeteroData, use_features: bool = True, use_tags: bool = True,
                        use_tag_popularity: bool = True, max_tags: int = 10
                        ) -> tuple[Tensor | None, TagBags | None]:
    """The layer-0 inputs of a feature-based item model: ``(x, tags)``.

    ``x`` ``[I, F]`` is the item store's ``x`` (``use_features``), with the
    :func:`tag_popularity` column appended when ``use_tags`` and ``use_tag_popularity`` and
    the graph has tags (then ``x`` is float; it is ``None`` when nothing is left). ``tags``
    is :func:`top_tags` with ``max_tags`` (``use_tags``; ``None`` without tags).
    """
    x = graph[ITEM].get("x") if use_features else None
    tags = top_tags(graph, max_tags) if use_tags else None
    if use_tags and use_tag_popularity:
        popularity = tag_popularity(graph)
        if popularity is not None:
            x = popularity if x is None else torch.cat([x.float(), popularity], 1)
    return x, tags
