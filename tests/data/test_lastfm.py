"""Last.fm HetRec 2011 loader: exact counts on the real files, hand-made files for errors."""
from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch

from graphrec.data import DataFormatError, DataNotFoundError, load_lastfm
from graphrec.data.lastfm import HAS_TAG, TAGGED, URL
from graphrec.graph import FOLLOWS, INTERACTS, num_friendships


def utc_midnight(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


def index_of(graph, node_type: str, raw_id) -> int:
    return int(graph[node_type].id_map.index([raw_id])[0])


# ---------------------------------------------------------------- real files


@pytest.mark.realdata
def test_counts(lastfm):
    graph = lastfm.graph
    assert lastfm.summary() == {"num_users": 1892, "num_items": 17632,
                                "num_interactions": 92834, "num_social_edges": 25434}
    assert graph[FOLLOWS].edge_index.size(1) == 25434
    assert num_friendships(graph) == 12717
    assert lastfm.split is None


@pytest.mark.realdata
def test_weights_and_order(lastfm):
    graph = lastfm.graph
    # Indices follow ascending raw ids (user 2 and artist 1 come first).
    assert graph["user"].id_map.raw([0, 1]) == [2, 3]
    assert graph["item"].id_map.raw([0, 1]) == [1, 2]
    # First row of user_artists.dat: 2 51 13883.
    u, i = index_of(graph, "user", 2), index_of(graph, "item", 51)
    edge_index = graph[INTERACTS].edge_index
    hit = (edge_index[0] == u) & (edge_index[1] == i)
    assert graph[INTERACTS].edge_weight[hit].tolist() == [13883.0]
    assert "time" not in graph[INTERACTS]


@pytest.mark.realdata
def test_artist_names(lastfm):
    names = lastfm.graph["item"].name
    assert len(names) == 17632
    assert names[0] == "MALICE MIZER"  # first row of artists.dat, artist id 1
    assert names[index_of(lastfm.graph, "item", 2)] == "Diary of Dreams"
    assert lastfm.info["items_without_name"] == 0


@pytest.mark.realdata
def test_tags_decoded_from_latin1(lastfm):
    graph = lastfm.graph
    assert graph["tag"].num_nodes == 11946
    assert len(graph["tag"].name) == 11946
    assert graph["tag"].name[index_of(graph, "tag", 1)] == "metal"
    # tags.dat is ISO-8859-1: these bytes would be mojibake or errors as UTF-8.
    assert graph["tag"].name[index_of(graph, "tag", 2863)] == "tropicália"
    assert graph["tag"].name[index_of(graph, "tag", 7982)] == "fußball"
    assert graph["tag"].name[index_of(graph, "tag", 11213)] == "die Ärzte"


@pytest.mark.realdata
def test_tagging_events(lastfm):
    graph = lastfm.graph
    tagged = graph[TAGGED]
    assert lastfm.info["dropped_tagging_rows"] == 1538
    assert lastfm.info["dropped_tagging_artists"] == 390
    assert tagged.edge_index.size(1) == 186479 - 1538
    assert tagged.tag.dtype == torch.long and tagged.time.dtype == torch.int64
    # First row of user_taggedartists.dat: user 2 tagged artist 52 with tag 13 on 1/4/2009.
    u, i = index_of(graph, "user", 2), index_of(graph, "item", 52)
    t = index_of(graph, "tag", 13)
    hit = (tagged.edge_index[0] == u) & (tagged.edge_index[1] == i) & (tagged.tag == t)
    assert tagged.time[hit].tolist() == [utc_midnight(2009, 4, 1)] == [1238544000]
    # item-tag edges merge the events: one per distinct pair, weights count the events.
    has_tag = graph[HAS_TAG]
    assert has_tag.edge_index.size(1) == 108437
    assert int(has_tag.edge_weight.sum()) == tagged.edge_index.size(1)
    assert int(has_tag.edge_index[1].max()) < graph["tag"].num_nodes


@pytest.mark.realdata
def test_root_may_be_dataset_or_files_folder(data_root):
    small = load_lastfm(data_root / "lastfm" / "raw", download=False)
    assert small.summary()["num_interactions"] == 92834


# ---------------------------------------------------------------- hand-made files

FILES = {
    "user_artists.dat": "userID\tartistID\tweight\n2\t51\t100\n2\t52\t10\n3\t51\t7\n",
    "user_friends.dat": "userID\tfriendID\n2\t3\n3\t2\n",
    "artists.dat": "id\tname\turl\tpictureURL\n51\tABBA\thttp://a\thttp://p\n"
                   "52\tBjörk\thttp://b\thttp://q\n",
    "tags.dat": "tagID\ttagValue\n1\trock\n2\ttropicália\n",
    "user_taggedartists.dat": "userID\tartistID\ttagID\tday\tmonth\tyear\n"
                              "2\t51\t1\t1\t4\t2009\n3\t51\t1\t1\t5\t2010\n"
                              "2\t52\t2\t29\t2\t2008\n3\t99\t2\t1\t1\t2007\n",
}


def make_hetrec(folder: Path, **overrides: str | bytes | None) -> Path:
    """A tiny HetRec folder; ``overrides`` replace a file's text (``None`` deletes it)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {**FILES, **{k.replace("__", "."): v for k, v in overrides.items()}}
    for name, text in files.items():
        if text is None:
            continue
        if isinstance(text, str):
            text = text.encode("iso-8859-1" if name == "tags.dat" else "utf-8")
        (folder / name).write_bytes(text)
    return folder


def test_tiny_hetrec(tmp_path):
    make_hetrec(tmp_path / "lastfm" / "raw")
    dataset = load_lastfm(tmp_path, download=False)
    graph = dataset.graph
    assert dataset.summary() == {"num_users": 2, "num_items": 2, "num_interactions": 3,
                                 "num_social_edges": 2}
    assert graph["item"].name == ["ABBA", "Björk"]
    assert graph["tag"].name == ["rock", "tropicália"]
    # Artist 99 is not an item: its tagging row is dropped and counted.
    assert dataset.info["dropped_tagging_rows"] == 1
    assert graph[TAGGED].edge_index.tolist() == [[0, 1, 0], [0, 0, 1]]
    assert graph[TAGGED].tag.tolist() == [0, 0, 1]
    assert graph[TAGGED].time.tolist() == [utc_midnight(2009, 4, 1), utc_midnight(2010, 5, 1),
                                           utc_midnight(2008, 2, 29)]
    assert graph[HAS_TAG].edge_index.tolist() == [[0, 1], [0, 1]]
    assert graph[HAS_TAG].edge_weight.tolist() == [2.0, 1.0]


def test_artists_in_wrong_encoding(tmp_path):
    latin1 = FILES["artists.dat"].encode("iso-8859-1")  # "Björk" on line 3, not UTF-8
    make_hetrec(tmp_path, artists__dat=latin1)
    with pytest.raises(DataFormatError) as err:
        load_lastfm(tmp_path, download=False)
    assert "artists.dat, line 3: not valid utf-8" in str(err.value)


def test_wrong_column_count(tmp_path):
    make_hetrec(tmp_path, user_artists__dat="userID\tartistID\tweight\n2\t51\t1\n2\t52\n")
    with pytest.raises(DataFormatError) as err:
        load_lastfm(tmp_path, download=False)
    assert "user_artists.dat, line 3: expected 3 columns separated by '\\t', got 2" in str(
        err.value)


def test_non_numeric_id(tmp_path):
    make_hetrec(tmp_path, user_friends__dat="userID\tfriendID\n2\t3\nthree\t2\n")
    with pytest.raises(DataFormatError) as err:
        load_lastfm(tmp_path, download=False)
    assert "user_friends.dat, line 3:" in str(err.value) and "'three'" in str(err.value)


def test_empty_file(tmp_path):
    make_hetrec(tmp_path, user_friends__dat="userID\tfriendID\n")
    with pytest.raises(DataFormatError, match=r"user_friends\.dat, line 2: no data rows"):
        load_lastfm(tmp_path, download=False)


def test_wrong_header(tmp_path):
    make_hetrec(tmp_path, user_friends__dat=FILES["user_artists.dat"])
    with pytest.raises(DataFormatError, match=r"user_friends\.dat, line 1: expected header"):
        load_lastfm(tmp_path, download=False)


def test_unknown_tag_and_impossible_date(tmp_path):
    head = "userID\tartistID\ttagID\tday\tmonth\tyear\n"
    rows = "2\t51\t1\t1\t4\t2009\n2\t51\t7\t1\t4\t2009\n"
    make_hetrec(tmp_path, user_taggedartists__dat=head + rows)
    with pytest.raises(DataFormatError, match=r"user_taggedartists\.dat, line 3: tagID 7"):
        load_lastfm(tmp_path, download=False)
    make_hetrec(tmp_path, user_taggedartists__dat=head + "2\t51\t1\t31\t4\t2009\n")
    with pytest.raises(DataFormatError, match=r"user_taggedartists\.dat, line 2: day 31"):
        load_lastfm(tmp_path, download=False)


def test_missing_file_without_download(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("download=False must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    make_hetrec(tmp_path / "lastfm" / "raw", tags__dat=None)
    with pytest.raises(DataNotFoundError) as err:
        load_lastfm(tmp_path, download=False)
    message = str(err.value)
    assert "tags.dat" in message and "user_artists.dat" not in message.split("Looked in")[0]
    assert str(tmp_path / "lastfm" / "raw") in message and URL in message


def test_download_failure(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataNotFoundError) as err:
        load_lastfm(tmp_path / "data")
    message = str(err.value)
    assert "user_artists.dat" in message and "user_taggedartists.dat" in message
    assert str(tmp_path / "data" / "lastfm" / "raw") in message
    assert URL in message
