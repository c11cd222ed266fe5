r"""Item side information as node types of the ``HeteroData`` graph.

Catalogue metadata (genres, release year, tags) become node types with edges from items,
``('item', <relation>, <field>)``. Each such relation is one *field* of side information:
single-valued (a movie's year bucket) or multi-valued (its genres, an artist's tags).
EGES (:class:`~graphrec.nn.conv.EGESConv`) embeds a field's values and averages them per
item; feature-based models (PinSAGE) can read the same edges as item features
(:func:`side_field_features`). A function per data set adds its fields; everything else
reads them generically through :func:`side_fields`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import HAS_TAG, ITEM, TAG
from graphrec.graph.feature_matrix import node_feature_matrix

GENRE = "genre"
YEAR = "year"
HAS_GENRE = (ITEM, "has_genre", GENRE)
RELEASED_IN = (ITEM, "released_in", YEAR)
TOP_TAG = (ITEM, "top_tag", TAG)

#: The side-information relations each loader's graph gets from the functions below.
MOVIELENS_SIDE_INFO: tuple[tuple[str, str, str], ...] = (HAS_GENRE, RELEASED_IN)
LASTFM_SIDE_INFO: tuple[tuple[str, str, str], ...] = (TOP_TAG,)

#: The 19 genre flags of MovieLens-100K's ``u.item``, in file order (as listed in
#: ``u.genre``); the loader (:mod:`graphrec.data.movielens`, as ``GENRES``) and
#: :func:`add_movielens_side_info` share this one list.
MOVIELENS_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
                    "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]


@dataclass
class SideField:
    """One field of item side information.

    Attributes:
        name: the field's node type (e.g. ``"genre"``).
        edge_index: ``[2, E]`` (item index, value index) pairs, sorted by item then value.
        num_values: number of values (nodes of the field's type).
    """

    name: str
    edge_index: Tensor
    num_values: int

    def to(self, device: torch.device | str) -> SideField:
        return SideField(self.name, self.edge_index.to(device), self.num_values)

    def item_has_value(self, num_items: int) -> Tensor:
        """``[num_items]`` bool: the item has at least one value in this field."""
        return torch.bincount(self.edge_index[0], minlength=num_items) > 0


def side_fields(graph: HeteroData, relations: Sequence[tuple[str, str, str]]) -> list[SideField]:
    """The given ``('item', rel, field)`` relations of ``graph`` as :class:`SideField` s.

    Read through the shared feature builder
    (:func:`~graphrec.graph.feature_matrix.node_feature_matrix`: one multi-hot field per
    relation, repeated edges once, entries sorted by item then value), so EGES, SDM and the
    feature-aware models see the same item/value pairs; a field's ``edge_index`` is its
    entries with the field's column offset removed."""
    relations = [tuple(relation) for relation in relations]
    for relation in relations:
        if relation not in graph.edge_types:
            raise ValueError(f"graph has no side-information relation {relation}; add it with "
                             "add_movielens_side_info / add_lastfm_side_info")
        if relation[0] != ITEM:
            raise ValueError(f"side information must go from items (got {relation})")
    if not relations:
        return []
    matrix = node_feature_matrix(graph, ITEM, identity=False, use_x=False, relations=relations)
    rows = matrix.row_index()
    fields = []
    for relation, field in zip(relations, matrix.fields, strict=True):
        inside = (matrix.columns >= field.start) & (matrix.columns < field.start + field.size)
        edge_index = torch.stack([rows[inside], matrix.columns[inside] - field.start])
        fields.append(SideField(relation[2], edge_index, field.size))
    return fields


def side_field_features(field: SideField, num_items: int) -> Tensor:
    """``[num_items, num_values]`` multi-hot rows divided by the item's number of values
    (an item's mean value one-hot; zero rows for items without a value)."""
    dense = torch.zeros(num_items, field.num_values)
    dense[field.edge_index[0], field.edge_index[1]] = 1.0
    return dense / dense.sum(1, keepdim=True).clamp(min=1.0)


def add_movielens_side_info(graph: HeteroData, info: dict, year_bucket: int = 5) -> HeteroData:
    r"""Adds MovieLens-100K genres and release-year buckets (in place; returns ``graph``).

    Reads the item features of :func:`~graphrec.data.load_movielens_100k`: the 19 genre
    flags (columns 0-18; a movie may have several genres) and the scaled release year
    (column 19) with its missing flag (column 20), unscaled with
    ``info['release_year_range']``.

    * node type ``'genre'`` (19 nodes, ``name``) and ``('item', 'has_genre', 'genre')``;
    * node type ``'year'``: buckets of ``year_bucket`` years starting at the earliest year
      (``name`` like ``"1990-1994"``), and ``('item', 'released_in', 'year')``; a movie
      without a release date has no year edge.
    """
    x = graph[ITEM].x
    if x is None or x.size(1) < len(MOVIELENS_GENRES) + 2:
        raise ValueError("expected MovieLens item features (19 genre flags, scaled year, "
                         "missing-year flag); load the graph with load_movielens_100k")
    if year_bucket < 1:
        raise ValueError(f"year_bucket must be a positive number of years (got {year_bucket})")
    genre_item, genre = (x[:, :len(MOVIELENS_GENRES)] > 0.5).nonzero(as_tuple=True)
    graph[GENRE].num_nodes = len(MOVIELENS_GENRES)
    graph[GENRE].name = list(MOVIELENS_GENRES)
    graph[HAS_GENRE].edge_index = torch.stack([genre_item, genre])

    low, high = info["release_year_range"]
    has_year = x[:, len(MOVIELENS_GENRES) + 1] < 0.5
    year = torch.round(low + x[:, len(MOVIELENS_GENRES)].double() * (high - low)).long()
    bucket = torch.div(year - low, year_bucket, rounding_mode="floor")
    num_buckets = (high - low) // year_bucket + 1
    items = has_year.nonzero().view(-1)
    graph[YEAR].num_nodes = int(num_buckets)
    graph[YEAR].name = [f"{low + b * year_bucket}-{low + (b + 1) * year_bucket - 1}"
                        for b in range(num_buckets)]
    graph[RELEASED_IN].edge_index = torch.stack([items, bucket[items]])
    return graph


def add_lastfm_side_info(graph: HeteroData, top_k: int = 10, min_artists: int = 2) -> HeteroData:
    r"""Adds each LastFM artist's ``top_k`` most frequent tags as ``('item', 'top_tag',
    'tag')`` (in place; returns ``graph``), treating them as catalogue metadata.

    Reads ``('item', 'has_tag', 'tag')`` of :func:`~graphrec.data.load_lastfm` (weight =
    number of tagging events). Tags applied to fewer than ``min_artists`` artists are
    ignored first (they relate no two items). Per artist, tags are ranked by count, ties
    by tag index, and the first ``top_k`` kept. Artists nobody tagged get no edge.
    """
    if HAS_TAG not in graph.edge_types:
        raise ValueError("graph has no ('item', 'has_tag', 'tag') edges; load it with "
                         "load_lastfm")
    if top_k < 1:
        raise ValueError(f"top_k must be positive (got {top_k})")
    item, tag = graph[HAS_TAG].edge_index
    count = graph[HAS_TAG].edge_weight.double()
    num_tags = graph[TAG].num_nodes
    spread = torch.bincount(tag, minlength=num_tags)
    keep = spread[tag] >= min_artists
    item, tag, count = item[keep], tag[keep], count[keep]
    # order by (item, -count, tag): stable sorts from the last key to the first
    order = torch.sort(tag, stable=True).indices
    order = order[torch.sort(-count[order], stable=True).indices]
    order = order[torch.sort(item[order], stable=True).indices]
    item, tag = item[order], tag[order]
    first = torch.ones_like(item, dtype=torch.bool)
    first[1:] = item[1:] != item[:-1]
    start = torch.cummax(torch.where(first, torch.arange(item.numel()), 0), 0).values
    rank = torch.arange(item.numel()) - start
    chosen = rank < top_k
    graph[TOP_TAG].edge_index = torch.stack([item[chosen], tag[chosen]])
    return graph
