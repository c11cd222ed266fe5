"""Reading helpers: root resolution, lookup, strict table parsing, download."""
from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from graphrec.data import DataFormatError, DataNotFoundError
from graphrec.data.io import download_and_extract, locate, read_lines, read_table, resolve_root

INT3 = [("user", int), ("item", int), ("weight", float)]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


# ---------------------------------------------------------------- root and lookup


def test_resolve_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREC_DATA", str(tmp_path / "env"))
    assert resolve_root(tmp_path / "given") == tmp_path / "given"
    assert resolve_root(str(tmp_path / "given")) == tmp_path / "given"
    assert resolve_root(None) == tmp_path / "env"
    monkeypatch.delenv("GRAPHREC_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_root(None) == tmp_path / "home" / ".graphrec" / "data"


def test_locate_accepts_data_dataset_and_files_folder(tmp_path):
    raw = tmp_path / "data" / "lastfm" / "raw"
    for name in ("a.dat", "b.dat"):
        write(raw / name, "x\n")
    for root in (tmp_path / "data", tmp_path / "data" / "lastfm", raw):
        assert locate(root, "lastfm", "raw", ["a.dat", "b.dat"]) == raw
    assert locate(tmp_path / "data", "lastfm", "raw", ["a.dat", "missing.dat"]) is None
    # Without a subdir, root/dataset_dir is tried.
    write(tmp_path / "data" / "ml" / "u.data", "1\t2\n")
    assert locate(tmp_path / "data", "ml", None, ["u.data"]) == tmp_path / "data" / "ml"


@pytest.mark.realdata
def test_locate_real_data(data_root):
    raw = data_root / "lastfm" / "raw"
    for root in (data_root, data_root / "lastfm", raw):
        assert locate(root, "lastfm", "raw", ["user_artists.dat"]) == raw


# ---------------------------------------------------------------- read_table


def test_read_table_types_header_and_blank_lines(tmp_path):
    path = write(tmp_path / "t.tsv", "u\ti\tw\r\n1\t10\t2.5\r\n\r\n2\t11\t1\r\n\n")
    table = read_table(path, delimiter="\t", columns=INT3, header=["u", "i", "w"])
    assert table["user"].dtype == np.int64 and table["weight"].dtype == np.float64
    assert table["user"].tolist() == [1, 2]
    assert table["item"].tolist() == [10, 11]
    assert table["weight"].tolist() == [2.5, 1.0]
    assert table.lines.tolist() == [2, 4]  # the blank line 3 is skipped, not renumbered
    strings = read_table(path, delimiter="\t", columns=[("a", str), ("b", str), ("c", str)],
                         header=True)
    assert strings["c"].tolist() == ["2.5", "1"]


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path / "user_artists.dat", "1\t2\t3\n4\t5\t6\n7\t8\n")
    with pytest.raises(DataFormatError) as err:
        read_table(path, delimiter="\t", columns=INT3)
    message = str(err.value)
    assert "user_artists.dat, line 3:" in message
    assert "expected 3 columns separated by '\\t', got 2" in message
    assert err.value.line == 3


def test_wrong_column_count_on_first_row(tmp_path):
    path = write(tmp_path / "f.csv", "a,b,c,d\n")
    with pytest.raises(DataFormatError, match=r"f\.csv, line 1: expected 3 columns .* got 4"):
        read_table(path, delimiter=",", columns=INT3)


def test_non_numeric_value_names_column_and_value(tmp_path):
    path = write(tmp_path / "ratings.tsv", "1\t2\t3\nx7\t2\t3\n")
    with pytest.raises(DataFormatError) as err:
        read_table(path, delimiter="\t", columns=INT3)
    assert "ratings.tsv, line 2:" in str(err.value)
    assert "'user'" in str(err.value) and "'x7'" in str(err.value)


def test_float_must_be_finite_and_int_must_be_integer(tmp_path):
    path = write(tmp_path / "w.tsv", "1\t2\t3\n1\t2\tnan\n")
    with pytest.raises(DataFormatError, match=r"w\.tsv, line 2: column 'weight'.*'nan'"):
        read_table(path, delimiter="\t", columns=INT3)
    path = write(tmp_path / "i.tsv", "1\t2.0\t3\n")
    with pytest.raises(DataFormatError, match=r"i\.tsv, line 1: column 'item'.*'2\.0'"):
        read_table(path, delimiter="\t", columns=INT3)
    path = write(tmp_path / "big.tsv", "1\t2\t3\n1\t99999999999999999999999\t3\n")
    with pytest.raises(DataFormatError, match=r"big\.tsv, line 2: column 'item'"):
        read_table(path, delimiter="\t", columns=INT3)


def test_empty_file_and_header_only(tmp_path):
    path = write(tmp_path / "empty.dat", "")
    with pytest.raises(DataFormatError, match=r"empty\.dat, line 1: empty file"):
        read_table(path, delimiter="\t", columns=INT3)
    path = write(tmp_path / "header_only.dat", "u\ti\tw\n")
    with pytest.raises(DataFormatError, match=r"header_only\.dat, line 2: no data rows"):
        read_table(path, delimiter="\t", columns=INT3, header=True)
    path = write(tmp_path / "blank.dat", "\n\n\n")
    with pytest.raises(DataFormatError, match=r"blank\.dat, line 1: empty file"):
        read_table(path, delimiter="\t", columns=INT3)


def test_wrong_header(tmp_path):
    path = write(tmp_path / "h.dat", "userID\tfriendID\n1\t2\n")
    with pytest.raises(DataFormatError, match=r"h\.dat, line 1: expected header"):
        read_table(path, delimiter="\t", columns=[("a", int), ("b", int)],
                   header=["userID", "artistID"])


def test_wrong_encoding_names_line(tmp_path):
    text = "id\tname\n1\tABBA\n2\tBjörk\n"
    path = write(tmp_path / "names.dat", text.encode("iso-8859-1"))
    columns = [("id", int), ("name", str)]
    with pytest.raises(DataFormatError) as err:
        read_table(path, delimiter="\t", columns=columns, header=True)
    assert "names.dat, line 3: not valid utf-8" in str(err.value)
    table = read_table(path, delimiter="\t", columns=columns, header=True, encoding="iso-8859-1")
    assert table["name"].tolist() == ["ABBA", "Björk"]


def test_latin1_control_characters_do_not_shift_line_numbers(tmp_path):
    # \x85 (NEL) and \x1c are line breaks for str.splitlines(); they must not be here.
    raw = b"1\tfoo\x85bar\n2\tx\x1cy\n3\n"
    path = write(tmp_path / "c.dat", raw)
    assert [n for n, _ in read_lines(path, "iso-8859-1")] == [1, 2, 3]
    with pytest.raises(DataFormatError, match=r"c\.dat, line 3: expected 2 columns"):
        read_table(path, delimiter="\t", columns=[("id", int), ("v", str)], encoding="latin-1")


def test_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        read_table(tmp_path / "nope.dat", delimiter="\t", columns=INT3)
    assert isinstance(err.value, FileNotFoundError)
    assert str(tmp_path / "nope.dat") in str(err.value)


def test_min_columns_optional_trailing_columns(tmp_path):
    columns = [("user", str), ("item", str), ("weight", float), ("time", int)]
    two = read_table(write(tmp_path / "a.tsv", "u1\ti1\nu2\ti2\n"), delimiter="\t",
                     columns=columns, min_columns=2)
    assert set(two) == {"user", "item"}
    three = read_table(write(tmp_path / "b.tsv", "u1\ti1\t0.5\n"), delimiter="\t",
                       columns=columns, min_columns=2)
    assert three["weight"].tolist() == [0.5] and "time" not in three
    with pytest.raises(DataFormatError, match=r"c\.tsv, line 2: expected 3 columns .*line 1"):
        read_table(write(tmp_path / "c.tsv", "u1\ti1\t1\nu2\ti2\n"), delimiter="\t",
                   columns=columns, min_columns=2)
    with pytest.raises(DataFormatError, match=r"d\.tsv, line 1: expected 2 to 4 columns"):
        read_table(write(tmp_path / "d.tsv", "u1\n"), delimiter="\t", columns=columns,
                   min_columns=2)


def test_allow_extra_and_whitespace_delimiter(tmp_path):
    table = read_table(write(tmp_path / "e.tsv", "1\t2\t3\t4\n5\t6\t7\n"), delimiter="\t",
                       columns=INT3, allow_extra=True)
    assert table["weight"].tolist() == [3.0, 7.0]
    table = read_table(write(tmp_path / "s.txt", "1  2   3\n 4 5 6\n"), delimiter=None,
                       columns=INT3)
    assert table["user"].tolist() == [1, 4]


# ---------------------------------------------------------------- download


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


URL = "https://example.org/datasets/pkg.zip"


def test_download_failure_says_what_where_and_url(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    target = tmp_path / "data" / "pkg"
    with pytest.raises(DataNotFoundError) as err:
        download_and_extract(URL, target, ["a.txt", "b.txt"], what="Pkg")
    message = str(err.value)
    assert "a.txt" in message and "b.txt" in message
    assert str(target) in message and URL in message
    assert "no network" in message
    assert not (tmp_path / "data").exists()  # no folder, no partial download left behind


def test_download_success_flattens_top_folder(monkeypatch, tmp_path):
    payload = make_zip({"pkg/a.txt": "A", "pkg/sub/b.txt": "B", "__MACOSX/pkg/._a.txt": "x"})
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    target = tmp_path / "out"
    assert download_and_extract(URL, target, ["a.txt", "sub/b.txt"]) == target
    assert calls == [URL]
    assert (target / "a.txt").read_text() == "A"
    assert (target / "sub" / "b.txt").read_text() == "B"
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "sub"]  # zip removed


def test_download_success_without_top_folder(monkeypatch, tmp_path):
    payload = make_zip({"a.txt": "A", "b.txt": "B"})
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    download_and_extract(URL, tmp_path, ["a.txt", "b.txt"])
    assert (tmp_path / "b.txt").read_text() == "B"


def test_download_archive_without_required_files(monkeypatch, tmp_path):
    payload = make_zip({"pkg/other.txt": "x"})
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    with pytest.raises(DataNotFoundError, match="a.txt.*does not contain"):
        download_and_extract(URL, tmp_path, ["a.txt"])


def test_download_broken_archive(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout=None: FakeResponse(b"<html>not a zip</html>"))
    with pytest.raises(DataNotFoundError, match=r"a\.txt") as err:
        download_and_extract(URL, tmp_path, ["a.txt"])
    assert URL in str(err.value)


def test_download_refuses_paths_outside_target(monkeypatch, tmp_path):
    payload = make_zip({"../evil.txt": "x", "a.txt": "A"})
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    with pytest.raises(DataFormatError, match="unsafe path"):
        download_and_extract(URL, tmp_path / "t", ["a.txt"])
    assert not (tmp_path / "evil.txt").exists()
