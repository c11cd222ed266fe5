"""Property tests of every loader.

1. Arbitrary bytes in any input file raise nothing but the data layer's own errors
   (:class:`~graphrec.data.DataError`: ``DataFormatError`` for contents; a loader may also
   succeed). Inputs are raw bytes, printable-ish text with control characters, and valid
   files with bytes spliced in, so that parsing gets past the first line.
2. Valid generated tables round-trip exactly: ids, weights and times read back equal what
   was written (delimited files, sequence lines, LightGCN lists, ``read_table``).

Each suite is kept small (``max_examples`` 40-100, no deadline) so all run in seconds.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphrec.data import (
    DataError,
    load_delimited,
    load_lastfm,
    load_lastfm_sociallgn,
    load_lightgcn_lists,
    load_movielens_100k,
    load_sequence_lines,
    read_table,
)
from graphrec.graph import INTERACTS

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that looks like data: digits, separators, signs, letters, a few troublemakers
TEXTISH = st.lists(st.sampled_from(list("0123456789\t\n ,.-+eE|xyé中")
                                   + ["\r", "\x00", "\x01", "\x1f", "\x85", "\xa0", "_",
                                      "nan", "inf", "user\titem\n", "99999999999999999999"]),
                   max_size=80).map("".join)


# lines of plausible and troublesome tokens: get past the first checks into deeper code
NUMBER = st.sampled_from(["0", "1", "2", "3", "7", "51", "52", "100"])
TROUBLE = st.sampled_from(["-1", "1099511627776", "99999999999999999999", "1" * 5000, "x",
                           "1.5", "", "é", "\x1f", "nan", "2.5e3", "user", "01-Jan-1995",
                           "M", "1_0"])
TOKEN = st.one_of(NUMBER, NUMBER, NUMBER, TROUBLE)  # mostly numbers: lines that nearly parse


def lines_with(separator: str) -> st.SearchStrategy[bytes]:
    """A few lines of tokens, mostly joined by the format's ``separator``."""
    separators = st.one_of(st.just(separator), st.just(separator),
                           st.sampled_from(["\t", " ", ",", "|"]))
    return st.tuples(separators, st.lists(st.lists(TOKEN, min_size=1, max_size=6),
                                          min_size=1, max_size=4)).map(
        lambda t: ("\n".join(t[0].join(line) for line in t[1]) + "\n").encode("utf-8"))


def garbage_for(valid: bytes) -> st.SearchStrategy[bytes]:
    """Raw bytes, data-like text, lines of tokens (alone or after ``valid``), or ``valid``
    with bytes spliced in or cut off."""
    separator = max(["\t", ",", "|", " "], key=lambda sep: valid.count(sep.encode()))
    lines = lines_with(separator)
    splice = st.tuples(st.integers(0, len(valid)), st.integers(0, 8), st.binary(max_size=8)
                       ).map(lambda t: valid[:t[0]] + t[2] + valid[t[0] + t[1]:])
    return st.one_of(st.binary(max_size=200), TEXTISH.map(lambda t: t.encode("utf-8")),
                     lines, lines.map(lambda extra: valid + extra),
                     lines.map(lambda extra: valid + extra), splice,
                     st.integers(0, len(valid)).map(lambda n: valid[:n]))


def only_library_errors(load: Callable[[], object]) -> None:
    try:
        load()
    except DataError:
        pass  # the library's own, clear errors (the message names file and line)


def run_in_folder(files: dict[str, bytes], load: Callable[[Path], object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, data in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        only_library_errors(lambda: load(root))


# ---------------------------------------------------------------- valid files to mutate

DELIMITED = b"1\t10\t2.5\t100\n2\t11\t1\t200\n1\t11\t4\t300\n"
SEQUENCES = b"u1 a b c\nu2 b d\n"
LIGHTGCN = {"train.txt": b"0 0 1 2\n1 2\n2\n", "test.txt": b"0 3\n1 0\n"}
MOVIELENS = {
    "u.data": b"1\t1\t5\t100\n2\t1\t3\t200\n2\t2\t4\t300\n",
    "u.item": ("1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join("0" * 18 + "1") + "\n"
               "2|Caf\xe9 (1996)|||http://y|" + "|".join("1" + "0" * 18) + "\n"
               ).encode("iso-8859-1"),
    "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n",
}
LASTFM = {
    "user_artists.dat": b"userID\tartistID\tweight\n2\t51\t100\n2\t52\t10\n3\t51\t7\n",
    "user_friends.dat": b"userID\tfriendID\n2\t3\n3\t2\n",
    "artists.dat": "id\tname\turl\tpictureURL\n51\tABBA\thttp://a\thttp://p\n"
                   "52\tBjörk\thttp://b\thttp://q\n".encode(),
    "tags.dat": "tagID\ttagValue\n1\trock\n2\ttropicália\n".encode("iso-8859-1"),
    "user_taggedartists.dat": b"userID\tartistID\ttagID\tday\tmonth\tyear\n"
                              b"2\t51\t1\t1\t4\t2009\n3\t51\t1\t1\t5\t2010\n"
                              b"2\t52\t2\t29\t2\t2008\n3\t99\t2\t1\t1\t2007\n",
}
SOCIALLGN = {
    "train_set.txt": b"user,item\n0,0\n0,1\n1,1\n",
    "test_set.txt": b"user,item\n1,0\n2,2\n",
    "trust.txt": b"user,friend\n0,1\n1,0\n",
    "userReindex.json": b'{"5": 0, "6": 1, "7": 2, "9": 3}',
    "itemReindex.json": b'{"51": 0, "52": 1, "53": 2}',
}


def mutated(files: dict[str, bytes]) -> st.SearchStrategy[dict[str, bytes]]:
    """``files`` with one of them replaced by garbage."""
    return st.sampled_from(sorted(files)).flatmap(
        lambda name: garbage_for(files[name]).map(lambda data: {**files, name: data}))


# ---------------------------------------------------------------- 1: garbage never crashes


@FUZZ
@given(data=garbage_for(DELIMITED), weight=st.booleans(), time=st.booleans(),
       header=st.booleans(), delimiter=st.sampled_from(["\t", ",", None]))
def test_delimited_garbage(data, weight, time, header, delimiter):
    run_in_folder({"f.tsv": data}, lambda root: load_delimited(
        root / "f.tsv", delimiter=delimiter, header=header, has_weight=weight, has_time=time))


@FUZZ
@given(data=garbage_for(DELIMITED), encoding=st.sampled_from(["utf-8", "iso-8859-1"]),
       header=st.booleans(), min_columns=st.sampled_from([None, 2]))
def test_read_table_garbage(data, encoding, header, min_columns):
    columns = [("user", int), ("item", str), ("weight", float), ("time", int)]
    run_in_folder({"f.tsv": data}, lambda root: read_table(
        root / "f.tsv", delimiter="\t", columns=columns, header=header, encoding=encoding,
        min_columns=min_columns))


@FUZZ
@given(data=garbage_for(SEQUENCES))
def test_sequence_lines_garbage(data):
    run_in_folder({"s.txt": data}, lambda root: load_sequence_lines(root / "s.txt"))


@FUZZ
@given(files=mutated(LIGHTGCN))
def test_lightgcn_garbage(files):
    run_in_folder(files, load_lightgcn_lists)


@FUZZ
@given(files=mutated(MOVIELENS))
def test_movielens_garbage(files):
    run_in_folder(files, lambda root: load_movielens_100k(root, download=False))


@FUZZ
@given(files=mutated(LASTFM))
def test_lastfm_garbage(files):
    run_in_folder(files, lambda root: load_lastfm(root, download=False))


@FUZZ
@given(files=mutated(SOCIALLGN))
def test_sociallgn_garbage(files):
    run_in_folder(files, load_lastfm_sociallgn)


def test_the_valid_files_load():
    # the fuzz starts from these: they must be valid, or the suites test nothing deeper
    for files, load in ((LIGHTGCN, load_lightgcn_lists),
                        (MOVIELENS, lambda r: load_movielens_100k(r, download=False)),
                        (LASTFM, lambda r: load_lastfm(r, download=False)),
                        (SOCIALLGN, load_lastfm_sociallgn)):
        with tempfile.TemporaryDirectory() as folder:
            for name, data in files.items():
                (Path(folder) / name).write_bytes(data)
            assert load(Path(folder)).summary()["num_interactions"] > 0


# ---------------------------------------------------------------- 2: valid tables round-trip

# ids: all integers, or all text (with a letter, so never read as an integer)
INT_IDS = st.integers(-10**12, 10**12).map(str)
TEXT_IDS = st.text(alphabet=st.sampled_from(list("abcxyzAZ09_-.é中ß")), min_size=1,
                   max_size=8).filter(lambda t: any(c.isalpha() for c in t))
WEIGHTS = st.floats(allow_nan=False, allow_infinity=False, width=32)
TIMES = st.integers(-2**62, 2**62)


@st.composite
def tables(draw):
    user_ids = draw(st.sampled_from([INT_IDS, TEXT_IDS]))
    item_ids = draw(st.sampled_from([INT_IDS, TEXT_IDS]))
    rows = draw(st.lists(st.tuples(user_ids, item_ids, WEIGHTS, TIMES), min_size=1,
                         max_size=30, unique_by=lambda r: (r[0], r[1])))
    return rows


def expected_ids(values: list[str]) -> list:
    """The loader's rule: ints when every id is a canonical integer, else the strings."""
    if all(v == str(int(v)) for v in values if v.lstrip("-").isdigit()) and all(
            v.lstrip("-").isdigit() for v in values):
        return [int(v) for v in values]
    return values


@ROUND_TRIP
@given(rows=tables(), delimiter=st.sampled_from(["\t", ","]), header=st.booleans())
def test_delimited_round_trip(rows, delimiter, header):
    lines = [delimiter.join([u, i, repr(float(w)), str(t)]) for u, i, w, t in rows]
    text = ("user" + delimiter + "item" + delimiter + "w" + delimiter + "t\n" if header
            else "") + "\n".join(lines) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plays.tsv"
        path.write_text(text, encoding="utf-8")
        graph = load_delimited(path, delimiter=delimiter, header=header, has_weight=True,
                               has_time=True).graph
    users = expected_ids([r[0] for r in rows])
    items = expected_ids([r[1] for r in rows])
    store = graph[INTERACTS]
    read_back = {
        (graph["user"].id_map.raw([u])[0], graph["item"].id_map.raw([i])[0]): (w, t)
        for (u, i), w, t in zip(store.edge_index.t().tolist(), store.edge_weight.tolist(),
                                store.time.tolist(), strict=True)}
    written = {(u, i): (float(np.float32(r[2])), r[3])
               for u, i, r in zip(users, items, rows, strict=True)}
    assert read_back == written


@ROUND_TRIP
@given(rows=tables())
def test_read_table_round_trip(rows):
    text = "".join(f"{u}\t{i}\t{w!r}\t{t}\n" for u, i, w, t in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.tsv"
        path.write_text(text, encoding="utf-8")
        table = read_table(path, delimiter="\t", columns=[
            ("user", str), ("item", str), ("weight", float), ("time", int)])
    assert table["user"].tolist() == [r[0] for r in rows]
    assert table["item"].tolist() == [r[1] for r in rows]
    assert table["weight"].tolist() == [r[2] for r in rows]  # repr round-trips float64
    assert table["time"].tolist() == [r[3] for r in rows]


@ROUND_TRIP
@given(sequences=st.dictionaries(TEXT_IDS, st.lists(TEXT_IDS, min_size=1, max_size=6,
                                                    unique=True), min_size=1, max_size=8))
def test_sequence_lines_round_trip(sequences):
    text = "".join(f"{user} {' '.join(items)}\n" for user, items in sequences.items())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seq.txt"
        path.write_text(text, encoding="utf-8")
        graph = load_sequence_lines(path).graph
    store = graph[INTERACTS]
    users = graph["user"].id_map.raw(store.edge_index[0])
    items = graph["item"].id_map.raw(store.edge_index[1])
    read_back: dict[str, list[tuple[int, str]]] = {}
    for user, item, time in zip(users, items, store.time.tolist(), strict=True):
        read_back.setdefault(user, []).append((time, item))
    assert {u: [i for _, i in sorted(v)] for u, v in read_back.items()} == sequences


@ROUND_TRIP
@given(train=st.dictionaries(st.integers(0, 40), st.sets(st.integers(0, 60), max_size=5),
                             min_size=1, max_size=8),
       test=st.dictionaries(st.integers(0, 40), st.sets(st.integers(0, 60), max_size=3),
                            min_size=1, max_size=8))
def test_lightgcn_round_trip(train, test):
    test = {u: items - train.get(u, set()) for u, items in test.items()}
    pairs = {name: {(u, i) for u, items in part.items() for i in items}
             for name, part in (("train", train), ("test", test))}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, part in (("train", train), ("test", test)):
            (root / f"{name}.txt").write_text(
                "".join(f"{u} {' '.join(map(str, sorted(items)))}\n" for u, items in part.items()))
        if not pairs["train"] or not pairs["test"]:
            with pytest.raises(DataError, match="no \\(user, item\\) pairs"):
                load_lightgcn_lists(root)
            return
        dataset = load_lightgcn_lists(root)
    for name in ("train", "test"):
        edges = getattr(dataset.split, name)[INTERACTS].edge_index.t().tolist()
        assert set(map(tuple, edges)) == pairs[name]  # ids are indices
    all_users = set(train) | set(test)
    assert dataset.summary()["num_users"] == max(all_users) + 1
