import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.graph.build import HAS_TAG, ITEM, TAG
from graphrec.graph.side_info import (
    HAS_GENRE,
    RELEASED_IN,
    TOP_TAG,
    add_lastfm_side_info,
    add_movielens_side_info,
    side_field_features,
    side_fields,
)


def _movielens_like():
    graph = HeteroData()
    x = torch.zeros(3, 21)
    x[0, [1, 2]] = 1.0          # Action, Adventure
    x[1, 8] = 1.0               # Drama
    x[0, 19], x[1, 19] = 0.0, 1.0  # 1990 and 2000 over the range (1990, 2000)
    x[2, 20] = 1.0              # no release date
    graph[ITEM].x = x
    graph[ITEM].num_nodes = 3
    return graph, {"release_year_range": (1990, 2000)}


def test_movielens_genres_and_year_buckets():
    graph, info = _movielens_like()
    add_movielens_side_info(graph, info, year_bucket=5)
    assert graph[HAS_GENRE].edge_index.tolist() == [[0, 0, 1], [1, 2, 8]]
    assert graph["genre"].num_nodes == 19 and graph["genre"].name[8] == "Drama"
    assert graph["year"].num_nodes == 3
    assert graph["year"].name == ["1990-1994", "1995-1999", "2000-2004"]
    assert graph[RELEASED_IN].edge_index.tolist() == [[0, 1], [0, 2]]  # item 2: no year
    genre, year = side_fields(graph, [HAS_GENRE, RELEASED_IN])
    assert (genre.name, genre.num_values, year.num_values) == ("genre", 19, 3)
    assert year.item_has_value(3).tolist() == [True, True, False]
    features = side_field_features(genre, 3)
    assert features[0, 1] == features[0, 2] == 0.5 and features[2].sum() == 0


def test_lastfm_top_tags_rank_by_count_then_tag_and_skip_rare_tags():
    graph = HeteroData()
    graph[ITEM].num_nodes = 3
    graph[TAG].num_nodes = 5
    # item 0: tag 0 x3, tag 1 x5, tag 2 x3, tag 4 x9 (tag 4 only on item 0: ignored)
    # item 1: tag 0 x1, tag 2 x1; item 2: tag 1 x2
    graph[HAS_TAG].edge_index = torch.tensor([[0, 0, 0, 0, 1, 1, 2], [0, 1, 2, 4, 0, 2, 1]])
    graph[HAS_TAG].edge_weight = torch.tensor([3.0, 5.0, 3.0, 9.0, 1.0, 1.0, 2.0])
    add_lastfm_side_info(graph, top_k=2, min_artists=2)
    assert graph[TOP_TAG].edge_index.tolist() == [[0, 0, 1, 1, 2], [1, 0, 0, 2, 1]]
    (field,) = side_fields(graph, [TOP_TAG])
    assert field.edge_index.tolist() == [[0, 0, 1, 1, 2], [0, 1, 0, 2, 1]]  # sorted


def test_side_info_errors():
    graph, info = _movielens_like()
    with pytest.raises(ValueError, match="no side-information relation"):
        side_fields(graph, [HAS_GENRE])
    with pytest.raises(ValueError, match="has_tag"):
        add_lastfm_side_info(graph)
    graph[ITEM].x = torch.zeros(3, 5)
    with pytest.raises(ValueError, match="MovieLens item features"):
        add_movielens_side_info(graph, info)


def test_side_fields_are_the_feature_builders_relation_fields():
    from graphrec.graph.feature_matrix import node_feature_matrix

    graph = HeteroData()
    graph[ITEM].num_nodes = 4
    graph[TAG].num_nodes = 3
    graph["genre"].num_nodes = 2
    # unsorted, with a repeated edge (item 2, tag 1): it counts once
    graph[TOP_TAG].edge_index = torch.tensor([[2, 0, 2, 2, 1], [1, 2, 0, 1, 2]])
    graph[HAS_GENRE].edge_index = torch.tensor([[3, 0], [1, 0]])
    tags, genres = side_fields(graph, [TOP_TAG, HAS_GENRE])
    assert tags.edge_index.tolist() == [[0, 1, 2, 2], [2, 2, 0, 1]]
    assert (tags.name, tags.num_values, genres.name, genres.num_values) == ("tag", 3, "genre", 2)
    assert genres.edge_index.tolist() == [[0, 3], [0, 1]]
    dense = node_feature_matrix(graph, ITEM, identity=False, relations=[TOP_TAG]).to_dense()
    torch.testing.assert_close(dense, side_field_features(tags, 4))
    assert side_fields(graph, []) == []
