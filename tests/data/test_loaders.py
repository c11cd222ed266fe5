"""MovieLens 100K, LightGCN lists, generic delimited files, the SocialLGN split, the registry."""
from __future__ import annotations

import io
import json
import re
import urllib.request
import zipfile
from pathlib import Path

import pytest
import torch

from graphrec.data import (
    DataFormatError,
    DataNotFoundError,
    load_dataset,
    load_delimited,
    load_lastfm_sociallgn,
    load_lightgcn_lists,
    load_movielens_100k,
)
from graphrec.graph import FOLLOWS, INTERACTS, num_friendships


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


class FakeResponse(io.BytesIO):
    """What the patched ``urlopen`` returns: a readable body with headers."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def edge_set(graph) -> set[tuple[int, int]]:
    return set(map(tuple, graph[INTERACTS].edge_index.t().tolist()))


# ---------------------------------------------------------------- MovieLens 100K


@pytest.mark.realdata
def test_movielens_real(data_root):
    dataset = load_movielens_100k(data_root, download=False)
    graph = dataset.graph
    assert dataset.summary() == {"num_users": 943, "num_items": 1682,
                                 "num_interactions": 100000, "num_social_edges": 0}
    assert graph["item"].name[0] == "Toy Story (1995)"
    assert graph["item"].x.shape == (1682, 21) and graph["user"].x.shape == (943, 24)
    # First line of u.data: user 196 rated item 242 with 3 at 881250949.
    u = int(graph["user"].id_map.index([196])[0])
    i = int(graph["item"].id_map.index([242])[0])
    hit = (graph[INTERACTS].edge_index[0] == u) & (graph[INTERACTS].edge_index[1] == i)
    assert graph[INTERACTS].edge_weight[hit].tolist() == [3.0]
    assert graph[INTERACTS].time[hit].tolist() == [881250949]
    # Movie 267 ("unknown") has no release date: year column 0, missing flag 1.
    assert dataset.info["items_without_release_date"] == 1
    unknown = int(graph["item"].id_map.index([267])[0])
    assert graph["item"].x[unknown, 19:].tolist() == [0.0, 1.0]
    assert float(graph["item"].x[:, 20].sum()) == 1.0
    # Toy Story: Animation, Children's, Comedy; 1995 scaled over 1922..1998.
    toy = graph["item"].x[0]
    names = dataset.info["item_feature_names"]
    assert {names[k] for k in range(19) if toy[k] == 1} == {
        "genre:Animation", "genre:Children's", "genre:Comedy"}
    assert toy[19].item() == pytest.approx((1995 - 1922) / (1998 - 1922))
    # User 1: 24, M, technician.
    user = graph["user"].x[0]
    user_names = dataset.info["user_feature_names"]
    assert user[0].item() == pytest.approx(0.24)
    assert {user_names[k] for k in range(1, 24) if user[k] == 1} == {
        "gender:M", "occupation:technician"}
    # u.item is ISO-8859-1: accented titles decode.
    assert any("é" in title for title in graph["item"].name)


ML_ITEM = ("1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join("0" * 18 + "1") + "\n"
           "2|Café (1996)|||http://y|" + "|".join("1" + "0" * 18) + "\n")
ML_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n"
ML_DATA = "1\t1\t5\t100\n2\t1\t3\t200\n2\t2\t4\t300\n"


def make_ml(folder: Path, data: str = ML_DATA, item: str = ML_ITEM) -> None:
    write(folder / "u.data", data)
    write(folder / "u.item", item.encode("iso-8859-1"))
    write(folder / "u.user", ML_USER)


def test_movielens_download_success(monkeypatch, tmp_path):
    source = tmp_path / "src"
    make_ml(source)
    payload = make_zip({f"ml-100k/{name}": (source / name).read_bytes()
                        for name in ("u.data", "u.item", "u.user")})
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    # The zip's top folder ml-100k/ is flattened into the canonical <root>/ml-100k.
    dataset = load_movielens_100k(tmp_path / "data", download=True)
    assert (tmp_path / "data" / "ml-100k" / "u.data").is_file()
    assert dataset.summary()["num_interactions"] == 3
    assert dataset.graph["item"].name == ["Toy Story (1995)", "Café (1996)"]


def test_movielens_tiny_features(tmp_path):
    make_ml(tmp_path)
    graph = load_movielens_100k(tmp_path, download=False).graph
    assert graph["item"].name == ["Toy Story (1995)", "Café (1996)"]
    assert graph["item"].x[:, 19:].tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert graph[INTERACTS].time.tolist() == [100, 200, 300]
    # 1995-01-01 is day 9131 after 1970-01-01; the second movie has no date
    day = graph["item"].release_day
    assert day.dtype == torch.float64 and day[0].item() == 9131.0 and torch.isnan(day[1])


def test_movielens_unknown_item(tmp_path):
    make_ml(tmp_path, data=ML_DATA + "1\t9\t4\t400\n")
    with pytest.raises(DataFormatError, match=r"u\.data, line 4: item id 9 is not in u\.item"):
        load_movielens_100k(tmp_path, download=False)


def test_movielens_bad_date_and_flags(tmp_path):
    make_ml(tmp_path, item=ML_ITEM.replace("01-Jan-1995", "1995/01/01"))
    with pytest.raises(DataFormatError, match=r"u\.item, line 1: release date"):
        load_movielens_100k(tmp_path, download=False)
    for bad in ("31-Feb-1995", "01-Foo-1995"):  # not a calendar date, not a month name
        make_ml(tmp_path, item=ML_ITEM.replace("01-Jan-1995", bad))
        with pytest.raises(DataFormatError, match=r"u\.item, line 1: release date"):
            load_movielens_100k(tmp_path, download=False)
    make_ml(tmp_path, item=ML_ITEM.replace("|0|0|1\n", "|0|2|1\n"))
    with pytest.raises(DataFormatError, match=r"u\.item, line 1: genre flags"):
        load_movielens_100k(tmp_path, download=False)


def test_movielens_missing_without_download(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"u\.data.*ml-100k\.zip"):
        load_movielens_100k(tmp_path, download=False)


# ---------------------------------------------------------------- LightGCN lists


def test_lightgcn_lists(tmp_path):
    write(tmp_path / "train.txt", "0 0 1 2\n1 2\n2\n")
    write(tmp_path / "test.txt", "0 3\n1 0\n4 1\n")
    dataset = load_lightgcn_lists(tmp_path)
    # User 2 has no items; user 3 appears nowhere but ids are contiguous up to 4.
    assert dataset.summary()["num_users"] == 5
    assert dataset.summary()["num_items"] == 4
    assert dataset.split.sizes() == {"train": 4, "valid": 0, "test": 3}
    assert edge_set(dataset.split.train) == {(0, 0), (0, 1), (0, 2), (1, 2)}
    assert edge_set(dataset.split.test) == {(0, 3), (1, 0), (4, 1)}
    assert load_dataset("lightgcn", root=tmp_path).summary() == dataset.summary()


@pytest.mark.parametrize(("train", "test", "bad", "line", "problem"), [
    ("0 1\n1 x2\n", "0 2\n", "train.txt", 2, "'x2'"),
    ("0 1\n", "0 2\n1 -3\n", "test.txt", 2, "non-negative"),
    ("0 1\n", "", "test.txt", 1, "empty file"),
    ("0 1 2\n", "1 0\n0 2\n", "test.txt", 2, "also in train.txt"),
    ("0 1.5\n", "0 2\n", "train.txt", 1, "'1.5'"),
])
def test_lightgcn_errors(tmp_path, train, test, bad, line, problem):
    write(tmp_path / "train.txt", train)
    write(tmp_path / "test.txt", test)
    with pytest.raises(DataFormatError) as err:
        load_lightgcn_lists(tmp_path)
    assert f"{bad}, line {line}:" in str(err.value)
    assert problem in str(err.value)


def test_lightgcn_missing(tmp_path):
    write(tmp_path / "train.txt", "0 1\n")
    with pytest.raises(DataNotFoundError, match="test.txt"):
        load_lightgcn_lists(tmp_path)


# ---------------------------------------------------------------- generic delimited


def test_delimited_string_ids_weight_time_social(tmp_path):
    path = write(tmp_path / "plays.tsv", "user\titem\tw\tt\nann\tx\t2\t50\nbob\tx\t1\t10\n"
                 "ann\ty\t0.5\t20\nann\tx\t3\t5\n")
    social = write(tmp_path / "follows.tsv", "src\tdst\nann\tbob\ncid\tann\n")
    dataset = load_delimited(path, header=True, has_weight=True, has_time=True,
                             social_path=social)
    graph = dataset.graph
    assert dataset.name == "plays"
    assert graph["user"].id_map.raw_ids == ["ann", "bob", "cid"]  # cid: social only
    assert graph["item"].id_map.raw_ids == ["x", "y"]
    assert edge_set(graph) == {(0, 0), (0, 1), (1, 0)}
    # (ann, x) twice: weights summed, earliest time kept; edges sorted by (user, item).
    assert graph[INTERACTS].edge_weight.tolist() == [5.0, 0.5, 1.0]
    assert graph[INTERACTS].time.tolist() == [5, 20, 10]
    assert graph[FOLLOWS].edge_index.tolist() == [[0, 2], [1, 0]]
    assert num_friendships(graph) == 2


def test_delimited_integer_ids(tmp_path):
    path = write(tmp_path / "a.csv", "10,7\n-3,8\n")
    graph = load_delimited(path, delimiter=",").graph
    assert graph["user"].id_map.raw_ids == [10, -3]
    assert graph["item"].id_map.raw_ids == [7, 8]
    # "007" is not canonical: converting it would merge it with "7", so ids stay strings.
    path = write(tmp_path / "b.csv", "1,7\n2,007\n")
    graph = load_delimited(path, delimiter=",").graph
    assert graph["user"].id_map.raw_ids == [1, 2]
    assert graph["item"].id_map.raw_ids == ["7", "007"]


def test_delimited_errors(tmp_path):
    path = write(tmp_path / "c.tsv", "u\ti\nu\ti\t5\n")
    with pytest.raises(DataFormatError, match=r"c\.tsv, line 2: expected 2 columns"):
        load_delimited(path)
    path = write(tmp_path / "d.tsv", "u\ti\t5\nu\ti\tfive\n")
    with pytest.raises(DataFormatError, match=r"d\.tsv, line 2: column 'weight'.*'five'"):
        load_delimited(path, has_weight=True)
    path = write(tmp_path / "e.tsv", "u\ti\n\ti\n")
    with pytest.raises(DataFormatError, match=r"e\.tsv, line 2: empty user id"):
        load_delimited(path)
    with pytest.raises(DataNotFoundError):
        load_delimited(tmp_path / "absent.tsv")


def test_registry(tmp_path):
    path = write(tmp_path / "f.tsv", "a\tb\n")
    assert load_dataset("tsv", path=path).summary()["num_interactions"] == 1
    with pytest.raises(ValueError) as err:
        load_dataset("netflix")
    for name in ("lastfm", "lastfm-sociallgn", "lightgcn", "movielens-100k", "tsv"):
        assert name in str(err.value)


# ---------------------------------------------------------------- SocialLGN split


@pytest.mark.realdata
def test_sociallgn_real(lastfm_sociallgn):
    dataset = lastfm_sociallgn
    assert dataset.summary() == {"num_users": 1892, "num_items": 17632,
                                 "num_interactions": 92834, "num_social_edges": 25434}
    assert num_friendships(dataset.graph) == 12717
    assert dataset.split.sizes() == {"train": 74267, "valid": 0, "test": 18567}
    assert dataset.split.valid is None
    assert dataset.graph["item"].name[0] == "MALICE MIZER"  # via itemReindex {"1": 0}


@pytest.mark.realdata
def test_sociallgn_indices_match_raw_loader(lastfm, lastfm_sociallgn):
    # Both index users/items by ascending raw HetRec id, so the graphs coincide.
    assert torch.equal(lastfm.graph[INTERACTS].edge_index,
                       lastfm_sociallgn.graph[INTERACTS].edge_index)
    assert torch.equal(lastfm.graph[FOLLOWS].edge_index,
                       lastfm_sociallgn.graph[FOLLOWS].edge_index)
    assert lastfm.graph["item"].name == lastfm_sociallgn.graph["item"].name


@pytest.mark.realdata
def test_sociallgn_root_forms(data_root):
    split_dir = data_root / "lastfm" / "sociallgn_split"
    for root in (data_root / "lastfm", split_dir):
        assert load_lastfm_sociallgn(root).split.sizes()["test"] == 18567


def make_split(folder: Path, train: str = "user,item\n0,0\n0,1\n1,1\n",
               test: str = "user,item\n1,0\n2,2\n") -> Path:
    write(folder / "train_set.txt", train)
    write(folder / "test_set.txt", test)
    write(folder / "trust.txt", "user,friend\n0,1\n1,0\n")
    write(folder / "userReindex.json", json.dumps({"5": 0, "6": 1, "7": 2, "9": 3}))
    write(folder / "itemReindex.json", json.dumps({"51": 0, "52": 1, "53": 2}))
    return folder


def test_sociallgn_tiny(tmp_path):
    make_split(tmp_path / "lastfm" / "sociallgn_split")
    dataset = load_lastfm_sociallgn(tmp_path)
    # num_users from the reindex map (user 3 has no interactions).
    assert dataset.summary() == {"num_users": 4, "num_items": 3, "num_interactions": 5,
                                 "num_social_edges": 2}
    assert edge_set(dataset.split.test) == {(1, 0), (2, 2)}
    assert "name" not in dataset.graph["item"]  # no raw folder next to the split
    write(tmp_path / "lastfm" / "raw" / "artists.dat",
          "id\tname\turl\tpictureURL\n52\tBjörk\tu\tp\n51\tABBA\tu\tp\n")
    named = load_lastfm_sociallgn(tmp_path / "lastfm" / "sociallgn_split")
    assert named.graph["item"].name == ["ABBA", "Björk", ""]


def test_sociallgn_errors(tmp_path):
    make_split(tmp_path, test="user,item\n1,0\n0,1\n")
    with pytest.raises(DataFormatError, match=r"test_set\.txt, line 3: pair \(0, 1\) is also"):
        load_lastfm_sociallgn(tmp_path)
    make_split(tmp_path, train="user,item\n0,0\n-1,1\n")
    with pytest.raises(DataFormatError, match=r"train_set\.txt, line 3: .*non-negative"):
        load_lastfm_sociallgn(tmp_path)
    make_split(tmp_path, train="user\titem\n0\t0\n")
    with pytest.raises(DataFormatError, match=r"train_set\.txt, line 1: expected header"):
        load_lastfm_sociallgn(tmp_path)


def test_sociallgn_missing(tmp_path):
    (tmp_path / "lastfm").mkdir()
    with pytest.raises(DataNotFoundError) as err:
        load_lastfm_sociallgn(tmp_path)
    message = str(err.value)
    assert "train_set.txt" in message and "itemReindex.json" in message
    assert str(tmp_path / "lastfm" / "sociallgn_split") in message


@pytest.mark.realdata
def test_gowalla_is_a_named_data_set(data_root):
    from graphrec.data import load_dataset

    dataset = load_dataset("gowalla", data_root)
    assert dataset.name == "gowalla"
    assert dataset.split.train["user", "interacts", "item"].edge_index.size(1) == 810_128


# ---------------------------------------------------------------- MovieLens official folds
def test_movielens_fold_split_tiny(tmp_path):
    make_ml(tmp_path)
    write(tmp_path / "u1.base", "1\t1\t5\t100\n2\t2\t4\t300\n")
    write(tmp_path / "u1.test", "2\t1\t3\t200\n")
    dataset = load_movielens_100k(tmp_path, download=False, fold="u1")
    assert edge_set(dataset.split.train) == {(0, 0), (1, 1)}
    assert edge_set(dataset.split.test) == {(1, 0)}
    assert dataset.split.valid is None and dataset.info["fold"] == "u1"
    assert dataset.split.test[INTERACTS].edge_weight.tolist() == [3.0]


@pytest.mark.parametrize("base, test, bad, problem", [
    ("1\t1\t5\t100\n2\t2\t4\t300\n", "2\t1\t4\t200\n", "u1.test, line 1",
     "rating 4.0 differs from u.data's 3.0"),
    ("1\t1\t5\t100\n1\t2\t4\t300\n", "2\t1\t3\t200\n", "u1.base, line 2",
     "rating of user 1 for item 2 is not in u.data"),
    ("1\t1\t5\t100\n", "2\t1\t3\t200\n1\t1\t5\t100\n", "u1.test, line 2",
     "rating of user 1 for item 1 is also in u1.base"),
    ("1\t1\t5\t100\n7\t1\t5\t100\n", "2\t1\t3\t200\n", "u1.base, line 2",
     "user id 7 is not in u.user"),
])
def test_movielens_fold_errors(tmp_path, base, test, bad, problem):
    make_ml(tmp_path)
    write(tmp_path / "u1.base", base)
    write(tmp_path / "u1.test", test)
    with pytest.raises(DataFormatError, match=re.escape(bad) + ": " + re.escape(problem)):
        load_movielens_100k(tmp_path, download=False, fold="u1")


def test_movielens_fold_missing_or_unknown(tmp_path):
    make_ml(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"u2\.base"):
        load_movielens_100k(tmp_path, download=False, fold="u2")
    with pytest.raises(ValueError, match="fold must be one of"):
        load_movielens_100k(tmp_path, download=False, fold="u9")


@pytest.mark.realdata
def test_movielens_official_folds_real(data_root):
    tests = []
    for fold in ("u1", "u2", "u3", "u4", "u5"):
        split = load_movielens_100k(data_root, download=False, fold=fold).split
        assert split.sizes() == {"train": 80000, "valid": 0, "test": 20000}
        assert not edge_set(split.train) & edge_set(split.test)
        tests.append(edge_set(split.test))
    # the five test parts partition the 100,000 ratings
    assert len(set().union(*tests)) == 100000
