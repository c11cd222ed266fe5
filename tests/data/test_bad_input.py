"""Bad input files get a clear error naming the file and line, never a crash, a hang, a huge
allocation or a silently different data set (the library side of the "bad input" issue:
NUL bytes, ids as indices, unreadable files, compression, header lines, offline mode)."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tarfile
import tracemalloc
import urllib.request
import zipfile
from pathlib import Path

import pytest

from graphrec.data import (
    DATASETS,
    DataAccessError,
    DataError,
    DataFormatError,
    DataNotFoundError,
    load_dataset,
    load_delimited,
    load_lastfm,
    load_lastfm_sociallgn,
    load_lightgcn_lists,
    load_movielens_100k,
    load_sequence_lines,
    offline,
    read_table,
)
from graphrec.data.io import download_and_extract
from graphrec.graph import INTERACTS, build_interaction_graph

TSV = "1\t10\t2.5\t100\n2\t11\t1\t200\n1\t11\t4\t300\n"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def load_tsv(path: Path, **kwargs):
    return load_delimited(path, has_weight=True, has_time=True, **kwargs)


def no_network(*args, **kwargs):
    raise AssertionError("the network must not be touched")


# ---------------------------------------------------------------- 4: NUL and control characters


def test_nul_byte_in_an_id_is_refused_at_its_line_not_merged(tmp_path):
    # NumPy strings drop trailing NULs: "1\0" would have become user "1"
    path = write(tmp_path / "nul.tsv", "1\t10\t2.5\t100\n1\x00\t11\t1\t200\n")
    with pytest.raises(DataFormatError, match=r"nul\.tsv, line 2: NUL character"):
        load_tsv(path)
    path = write(tmp_path / "seq.txt", "u1 a b\nu1\x00 c\n")
    with pytest.raises(DataFormatError, match=r"seq\.txt, line 2: NUL"):
        load_sequence_lines(path)
    write(tmp_path / "train.txt", "0 1\n1\x00 2\n")
    write(tmp_path / "test.txt", "0 2\n")
    with pytest.raises(DataFormatError, match=r"train\.txt, line 2: NUL"):
        load_lightgcn_lists(tmp_path)


@pytest.mark.parametrize("char", ["\x01", "\x1f", "\x7f", "\x85", "\t"])
def test_control_characters_in_ids_are_refused(tmp_path, char):
    path = write(tmp_path / "c.csv", f"u1,i1\nu2{char},i1\n")
    with pytest.raises(DataFormatError, match=r"c\.csv, line 2: control character") as err:
        load_delimited(path, delimiter=",")
    assert repr(char) in str(err.value)


@pytest.mark.parametrize("char", ["\x1c", "\x1f", "\x85", "\x01"])
def test_control_characters_never_split_whitespace_separated_ids(tmp_path, char):
    # str.split() treats \x1c-\x1f and \x85 as whitespace: "a\x1fb" would become two items
    path = write(tmp_path / "seq.txt", f"u1 a b\nu2 a{char}b\n")
    with pytest.raises(DataFormatError, match=r"seq\.txt, line 2: control character"):
        load_sequence_lines(path)
    write(tmp_path / "train.txt", f"0 1\n1 2{char}3\n")
    write(tmp_path / "test.txt", "0 2\n")
    with pytest.raises(DataFormatError, match=r"train\.txt, line 2: control character"):
        load_lightgcn_lists(tmp_path)
    path = write(tmp_path / "ws.txt", f"1 2\n3 4{char}5\n")
    with pytest.raises(DataFormatError, match=r"ws\.txt, line 2: control character"):
        load_delimited(path, delimiter=None)


def test_build_graph_refuses_nul_in_listed_ids():
    with pytest.raises(ValueError, match="NUL"):
        build_interaction_graph(["3", "3\x00"], ["a", "b"])


def test_numbers_are_plain_ascii(tmp_path):
    # int() and NumPy read "1_0" as 10 and "٣" as 3; no data file means that
    for bad in ("1_0", "\u0663", "1\xa0"):
        path = write(tmp_path / "n.tsv", f"1\t10\t2\t100\n2\t11\t2\t{bad}\n")
        with pytest.raises(DataFormatError, match=r"n\.tsv, line 2: column 'time'"):
            load_tsv(path)
    table = read_table(write(tmp_path / "ok.tsv", " 1\t-2\t+3.5e1\n"), delimiter="\t",
                       columns=[("a", int), ("b", int), ("c", float)])
    assert (table["a"].tolist(), table["b"].tolist(), table["c"].tolist()) == ([1], [-2], [35.0])


# ---------------------------------------------------------------- 6: ids used as indices


def test_lightgcn_huge_id_is_an_error_in_bounded_memory(tmp_path):
    huge = 2 ** 40  # as indices this would need a 2**40-entry map
    write(tmp_path / "train.txt", "0 0 1\n1 1\n")
    write(tmp_path / "test.txt", f"0 2\n{huge} 0\n")
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError) as err:
            load_lightgcn_lists(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2 ** 20
    assert f"test.txt, line 2: user id {huge} is far beyond" in str(err.value)
    write(tmp_path / "test.txt", f"0 2\n1 {huge}\n")
    with pytest.raises(DataFormatError, match=rf"test\.txt, line 2: item id {huge}"):
        load_lightgcn_lists(tmp_path)


def test_lightgcn_ids_with_gaps_keep_their_indices(tmp_path):
    # gaps are fine (ids stay indices) as long as the index space follows the data's size
    write(tmp_path / "train.txt", "0 0\n900 5\n")
    write(tmp_path / "test.txt", "0 1\n")
    dataset = load_lightgcn_lists(tmp_path)
    assert dataset.summary()["num_users"] == 901 and dataset.summary()["num_items"] == 6
    assert dataset.graph["user"].id_map.raw([900]) == [900]


def test_sociallgn_huge_id_is_an_error(tmp_path):
    write(tmp_path / "train_set.txt", f"user,item\n0,0\n{2 ** 40},1\n")
    write(tmp_path / "test_set.txt", "user,item\n1,0\n")
    write(tmp_path / "trust.txt", "user,friend\n0,1\n")
    write(tmp_path / "userReindex.json", json.dumps({"5": 0, "6": 1}))
    write(tmp_path / "itemReindex.json", json.dumps({"51": 0, "52": 1}))
    with pytest.raises(DataFormatError, match=r"train_set\.txt, line 3: user id 1099511627776"):
        load_lastfm_sociallgn(tmp_path)
    write(tmp_path / "train_set.txt", "user,item\n0,0\n0,1\n")
    write(tmp_path / "itemReindex.json", json.dumps({"51": 0, "52": 2 ** 40}))
    with pytest.raises(DataFormatError, match=r"itemReindex\.json: item id 1099511627776"):
        load_lastfm_sociallgn(tmp_path)
    write(tmp_path / "itemReindex.json", "[" * 100_000)
    with pytest.raises(DataFormatError, match="itemReindex.json"):
        load_lastfm_sociallgn(tmp_path)


# ---------------------------------------------------------------- 8: unreadable files


def test_permission_denied_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path / "secret.tsv", TSV)

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(DataAccessError, match=rf"cannot read {path}: permission denied"):
        load_tsv(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files without read permission")
def test_permission_denied_for_real(tmp_path):
    path = write(tmp_path / "secret.tsv", TSV)
    path.chmod(0)
    try:
        with pytest.raises(DataAccessError, match="permission denied"):
            load_tsv(path)
    finally:
        path.chmod(0o644)


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "plays.tsv").mkdir()
    with pytest.raises(DataAccessError, match=r"plays\.tsv is a directory, expected a file"):
        load_tsv(tmp_path / "plays.tsv")
    with pytest.raises(DataNotFoundError, match="file not found"):
        load_tsv(tmp_path / "absent.tsv")
    assert issubclass(DataAccessError, DataError) and issubclass(DataAccessError, OSError)


@pytest.mark.parametrize(("name", "compress"), [
    ("plays.tsv.gz", gzip.compress), ("plays.tsv", gzip.compress),
    ("plays.tsv.bz2", bz2.compress), ("plays.tsv.xz", lzma.compress)])
def test_compressed_files_are_read_transparently(tmp_path, name, compress):
    plain = load_tsv(write(tmp_path / "plain.tsv", TSV)).graph
    packed = load_tsv(write(tmp_path / name, compress(TSV.encode()))).graph
    for key in ("edge_index", "edge_weight", "time"):
        assert packed[INTERACTS][key].tolist() == plain[INTERACTS][key].tolist()
    assert packed["user"].id_map.raw_ids == plain["user"].id_map.raw_ids


def test_broken_compressed_file_and_archives(tmp_path):
    truncated = gzip.compress(TSV.encode())[:-12]
    with pytest.raises(DataFormatError, match=r"gzip-compressed, but cannot be decompressed"):
        load_tsv(write(tmp_path / "cut.tsv.gz", truncated))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("plays.tsv", TSV)
    with pytest.raises(DataFormatError, match=r"a zip archive, not a text file"):
        load_tsv(write(tmp_path / "plays.zip", buffer.getvalue()))
    tar_path = tmp_path / "plays.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(write(tmp_path / "inner.tsv", TSV), arcname="plays.tsv")
    with pytest.raises(DataFormatError, match=r"a tar archive"):
        load_tsv(tar_path)
    utf16 = write(tmp_path / "wide.tsv", TSV.encode("utf-16"))
    with pytest.raises(DataFormatError, match=r"wide\.tsv, line 1: UTF-16"):
        load_tsv(utf16)


def test_header_line_without_header_flag_is_reported_at_line_1(tmp_path):
    path = write(tmp_path / "h.tsv", "user\titem\trating\tts\n" + TSV)
    with pytest.raises(DataFormatError, match=r"h\.tsv, line 1: column 'weight'.*'rating'.*"
                       r"header=True"):
        load_tsv(path)
    assert load_tsv(path, header=True).summary()["num_interactions"] == 3
    # integer ids with a "user item" line: honest to call it a header
    path = write(tmp_path / "ids.tsv", "user\titem\n1\t10\n2\t11\n")
    with pytest.raises(DataFormatError, match=r"ids\.tsv, line 1: looks like a header"):
        load_delimited(path)
    assert load_delimited(path, header=True).summary()["num_users"] == 2
    # string ids: a header cannot be told from data, so none is guessed
    path = write(tmp_path / "names.tsv", "user\titem\nann\tx\nbob\ty\n")
    assert load_delimited(path).graph["user"].id_map.raw_ids == ["user", "ann", "bob"]
    path = write(tmp_path / "seq.txt", "user items\n1 5 6\n2 6 7\n")
    with pytest.raises(DataFormatError, match=r"seq\.txt, line 1: looks like a header"):
        load_sequence_lines(path)


def test_messages_show_plain_values_never_numpy_reprs(tmp_path):
    messages = []
    path = write(tmp_path / "seq.txt", "3 5 6\n4 7\n3 8\n")
    with pytest.raises(DataFormatError) as err:
        load_sequence_lines(path)
    messages.append(str(err.value))
    folder = tmp_path / "ml"
    write(folder / "u.data", "1\t1\t5\t100\n")
    write(folder / "u.item", "1|T|01-Jan-1995||u|" + "|".join("0" * 19) + "\n")
    write(folder / "u.user", "1|24|X|technician|85711\n1|25|M|other|1\n")
    with pytest.raises(DataFormatError) as err:
        load_movielens_100k(folder, download=False)
    messages.append(str(err.value))
    write(folder / "u.user", "1|24|X|technician|85711\n")
    with pytest.raises(DataFormatError) as err:
        load_movielens_100k(folder, download=False)
    messages.append(str(err.value))
    assert "user '3' already has a line" in messages[0]
    assert "id 1 appears more than once" in messages[1]
    assert "gender 'X' is not one of" in messages[2]
    assert not any("np." in message for message in messages)


# ---------------------------------------------------------------- 9: offline, no stray folders


def test_offline_env_values(monkeypatch):
    for value, expected in (("1", True), ("TRUE", True), ("yes", True), ("0", False),
                            ("", False), ("off", False)):
        monkeypatch.setenv("GRAPHREC_OFFLINE", value)
        assert offline() is expected
    monkeypatch.setenv("GRAPHREC_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="GRAPHREC_OFFLINE"):
        offline()


@pytest.mark.parametrize("loader", [load_movielens_100k, load_lastfm])
def test_offline_and_no_download_never_touch_network_or_disk(monkeypatch, tmp_path, loader):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    misspelled = tmp_path / "dtaa"
    with pytest.raises(DataNotFoundError, match=r"download=False"):
        loader(misspelled, download=False)
    monkeypatch.setenv("GRAPHREC_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match=r"GRAPHREC_OFFLINE is set"):
        loader(misspelled)
    assert not misspelled.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_download_leaves_no_folder_tree(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        return io.BytesIO(b"<html>not a zip</html>")

    monkeypatch.setattr(urllib.request, "urlopen", broken)
    with pytest.raises(DataNotFoundError, match="Download failed"):
        load_movielens_100k(tmp_path / "dtaa")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("GRAPHREC_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="GRAPHREC_OFFLINE"):
        download_and_extract("https://example.org/x.zip", tmp_path / "t", ["a.txt"])
    assert list(tmp_path.iterdir()) == []


def test_every_registered_loader_accepts_download_false(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    for name in DATASETS:
        kwargs = {"path": tmp_path / "absent.txt"} if name in ("tsv", "sequence-file") else {}
        with pytest.raises(DataNotFoundError):
            load_dataset(name, root=tmp_path / "absent", download=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_error_hierarchy():
    # what the CLI relies on: one base class, each also the builtin it refines
    assert issubclass(DataFormatError, DataError) and issubclass(DataFormatError, ValueError)
    assert issubclass(DataNotFoundError, DataError)
    assert issubclass(DataNotFoundError, FileNotFoundError)
    assert str(DataFormatError("f.tsv", 3, "bad")) == "f.tsv, line 3: bad"
