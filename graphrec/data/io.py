"""Reading helpers shared by every loader: where the files are, how to fetch them, how to parse.

All parsing here is strict. A loader never guesses its way past a malformed line: it raises
:class:`~graphrec.data.errors.DataFormatError` naming the file, the 1-based line and the
problem, so that a corrupt or mislabelled file is noticed before it silently changes results.

Files compressed with gzip, bzip2 or xz are read transparently (recognised by their first
bytes, whatever their name); zip and tar archives are refused with a message saying so.
A NUL character never occurs in a text file: it is an error at its line. Downloads can be
switched off per call (``download=False``) or for the whole process
(``GRAPHREC_OFFLINE=1``); a download writes into a temporary folder and moves the files
into place only when it succeeded, so a failed one (a misspelled ``root`` included) leaves
no folders behind.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Sequence
from http.client import HTTPException
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from graphrec.data.errors import DataAccessError, DataFormatError, DataNotFoundError
from graphrec.graph.checks import shown

#: Folder used when neither ``root`` nor ``$GRAPHREC_DATA`` is given.
DEFAULT_ROOT = Path("~/.graphrec/data")
#: Environment variable that switches every download off (``1``, ``true``, ``yes``, ``on``).
OFFLINE_ENV = "GRAPHREC_OFFLINE"

ColumnType = type  # one of int, float, str
Columns = Sequence[tuple[str, ColumnType]]


def resolve_root(root: str | Path | None) -> Path:
    """The data folder: ``root`` if given, else ``$GRAPHREC_DATA``, else ``~/.graphrec/data``."""
    if root is None:
        root = os.environ.get("GRAPHREC_DATA") or DEFAULT_ROOT
    return Path(root).expanduser()


def offline() -> bool:
    """Whether ``$GRAPHREC_OFFLINE`` forbids downloads: ``1``/``true``/``yes``/``on`` (any
    case) do, unset, empty, ``0``/``false``/``no``/``off`` do not.

    Raises:
        ValueError: any other value (a typo must not silently allow the network).
    """
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{OFFLINE_ENV} must be 1/true/yes/on or 0/false/no/off "
                     f"(got {os.environ[OFFLINE_ENV]!r})")


def download_refusal(download: bool = True) -> str | None:
    """Why a download may not happen (``download=False`` or ``$GRAPHREC_OFFLINE``), or
    ``None`` when it may."""
    if not download:
        return "download=False"
    if offline():
        return f"{OFFLINE_ENV} is set"
    return None


def candidate_dirs(root: str | Path | None, dataset_dir: str, subdir: str | None) -> list[Path]:
    """The folders :func:`locate` tries, in order (``None`` parts skipped, duplicates removed)."""
    base = resolve_root(root)
    parts: list[list[str | None]] = [[], [subdir], [dataset_dir, subdir], [dataset_dir]]
    out: list[Path] = []
    for part in parts:
        if None in part:
            continue
        folder = base.joinpath(*(p for p in part if p is not None))
        if folder not in out:
            out.append(folder)
    return out


def locate(
    root: str | Path | None, dataset_dir: str, subdir: str | None, required: Sequence[str]
) -> Path | None:
    """Finds the folder holding all ``required`` files, tolerant of what ``root`` points at.

    Tries, in order, ``root``, ``root/subdir``, ``root/dataset_dir/subdir`` and
    ``root/dataset_dir`` (parts that are ``None`` are skipped), so ``root`` may be the data
    folder (``../shared/data``), the data set's folder (``../shared/data/lastfm``) or the
    files' own folder (``../shared/data/lastfm/raw``). ``root=None`` resolves through
    :func:`resolve_root`.

    Returns:
        The first folder that contains every required file, or ``None``.
    """
    for folder in candidate_dirs(root, dataset_dir, subdir):
        if all((folder / name).is_file() for name in required):
            return folder
    return None


def not_found(
    what: str, required: Sequence[str], folder: Path, url: str | None = None,
    searched: Sequence[Path] = (), reason: str | None = None, skipped: str | None = None,
) -> DataNotFoundError:
    """A :class:`DataNotFoundError` whose message says what is missing, where to put it and
    where to get it (``reason``: why a download failed; ``skipped``: why none was tried)."""
    missing = [name for name in required if not (folder / name).is_file()] or list(required)
    lines = [f"{what}: missing {', '.join(missing)}."]
    if reason:
        lines.append(f"Download failed: {reason}.")
    if skipped:
        lines.append(f"Not downloaded ({skipped}).")
    if searched:
        lines.append("Looked in: " + ", ".join(str(p) for p in searched) + ".")
    lines.append(f"Put the files in {folder}")
    if url:
        lines[-1] += f" (official download: {url})"
    lines[-1] += ", or pass root= / set GRAPHREC_DATA to the folder that holds them."
    return DataNotFoundError(" ".join(lines))


def _member_target(name: str, strip_top: bool) -> PurePosixPath | None:
    """Relative path a zip member is extracted to; ``None`` for members to skip."""
    parts = PurePosixPath(name).parts
    if not parts or parts[0] == "__MACOSX":  # resource forks added by macOS zip tools
        return None
    if strip_top:
        parts = parts[1:]
    if not parts:
        return None
    # Never write outside the target folder ("zip slip").
    if name.startswith("/") or ".." in parts or ":" in parts[0]:
        raise DataFormatError(name, None, "unsafe path in zip archive")
    return PurePosixPath(*parts)


def extract_flat(archive: str | Path, target_dir: str | Path) -> list[Path]:
    """Extracts a zip into ``target_dir``, dropping a top folder shared by all members
    (``ml-100k/u.data`` lands as ``target_dir/u.data``). Returns the extracted files."""
    target_dir = Path(target_dir)
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.filename.startswith("__MACOSX")]
        tops = {PurePosixPath(m.filename).parts[0] for m in members if m.filename}
        strip_top = len(tops) == 1 and all(
            len(PurePosixPath(m.filename).parts) > 1 or m.is_dir() for m in members)
        written = []
        for member in members:
            if member.is_dir():
                continue
            rel = _member_target(member.filename, strip_top)
            if rel is None:
                continue
            out = target_dir.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            written.append(out)
    return written


def download_and_extract(
    url: str, target_dir: str | Path, required: Sequence[str], *, what: str = "data set"
) -> Path:
    """Downloads the zip at ``url``, extracts it and moves the files into ``target_dir``
    once every ``required`` file is there.

    The zip's top folder, if all members share one, is dropped so the files land directly in
    ``target_dir``. Download and extraction happen in a temporary folder: ``target_dir``
    (and its parents) are created only after they succeeded, so a failed download, or one
    refused because ``$GRAPHREC_OFFLINE`` is set, leaves nothing behind.

    Raises:
        DataNotFoundError: downloads are off, any network failure, a broken archive or
            required files missing from it; the message names the missing files,
            ``target_dir`` and ``url`` so the files can be fetched by hand.
        DataAccessError: the files cannot be moved into ``target_dir``.
    """
    target_dir = Path(target_dir)
    refusal = download_refusal(True)
    if refusal:
        raise not_found(what, required, target_dir, url, skipped=refusal)
    archive_name = PurePosixPath(urllib.parse.urlparse(url).path).name or "download.zip"
    with tempfile.TemporaryDirectory(prefix="graphrec-download-") as staging:
        archive = Path(staging) / archive_name
        files = Path(staging) / "files"
        partial = archive.with_name(archive.name + ".part")
        try:
            # Looked up on the module at call time so tests can monkeypatch it.
            with urllib.request.urlopen(url, timeout=60) as response:
                headers = getattr(response, "headers", None)
                size = headers.get("Content-Length") if headers is not None else None
                with open(partial, "wb") as out, tqdm(
                    total=int(size) if size and str(size).isdigit() else None, unit="B",
                    unit_scale=True,
                    desc=f"Downloading {archive.name}",
                ) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
            partial.replace(archive)
            extract_flat(archive, files)
        except (urllib.error.URLError, HTTPException, OSError, zipfile.BadZipFile) as err:
            # URLError and socket timeouts are OSErrors; HTTPException covers truncated replies.
            raise not_found(what, required, target_dir, url, reason=str(err)) from err
        if not all((files / name).is_file() for name in required):
            raise not_found(what, required, target_dir, url,
                            reason="the archive does not contain the expected files")
        _move_into(files, target_dir)
    return target_dir


def _move_into(source: Path, target: Path) -> None:
    """Moves every file under ``source`` to the same place under ``target`` (created as
    needed; files already there are replaced)."""
    try:
        for path in sorted(source.rglob("*")):
            if path.is_dir():
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), str(destination))
    except OSError as err:
        raise DataAccessError(f"cannot write the downloaded files to {target}: "
                              f"{err.strerror or err}") from err


def find_or_download(
    root: str | Path | None, dataset_dir: str, subdir: str | None, required: Sequence[str],
    *, what: str, url: str, download: bool = True,
) -> Path:
    """The folder holding ``required`` (see :func:`locate`), downloaded from ``url`` into
    ``<root>/<dataset_dir>[/<subdir>]`` when absent, unless ``download`` is ``False`` or
    ``$GRAPHREC_OFFLINE`` is set (then :class:`DataNotFoundError` says what to put where)."""
    folder = locate(root, dataset_dir, subdir, required)
    if folder is not None:
        return folder
    canonical = resolve_root(root) / dataset_dir
    if subdir is not None:
        canonical = canonical / subdir
    refusal = download_refusal(download)
    if refusal:
        raise not_found(what, required, canonical, url,
                        searched=candidate_dirs(root, dataset_dir, subdir), skipped=refusal)
    return download_and_extract(url, canonical, required, what=what)


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


class Table(dict):
    """Columns read by :func:`read_table`: a ``dict`` of name → 1-D array, one entry per row.

    Attributes:
        path: the file the table was read from.
        lines: 1-based line number of each row (to point error messages at the right line).
    """

    def __init__(self, path: Path, lines: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        super().__init__(columns)
        self.path = path
        self.lines = lines

    @property
    def num_rows(self) -> int:
        return len(self.lines)

    def fail(self, row: int, problem: str) -> DataFormatError:
        """The error for row ``row`` (0-based) of this table."""
        return DataFormatError(self.path, int(self.lines[row]), problem)

    def check(self, bad: np.ndarray, problem: Callable[[int], str]) -> None:
        """Raises a :class:`DataFormatError` at the first row where ``bad`` is true;
        ``problem(row)`` writes its message."""
        hits = np.flatnonzero(bad)
        if len(hits):
            raise self.fail(int(hits[0]), problem(int(hits[0])))


#: Compressed formats read transparently: first bytes -> (name, decompress).
_COMPRESSED: list[tuple[Callable[[bytes], bool], str, Callable[[bytes], bytes]]] = [
    (lambda b: b.startswith(b"\x1f\x8b"), "gzip", gzip.decompress),
    # "BZh", a block size digit, then the block or end-of-stream magic: never plain text
    (lambda b: re.match(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", b) is not None, "bzip2",
     bz2.decompress),
    (lambda b: b.startswith(b"\xfd7zXZ\x00"), "xz", lzma.decompress),
]
#: Archives (several files): refused, with what to do.
_ARCHIVES: list[tuple[Callable[[bytes], bool], str]] = [
    (lambda b: b[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"), "a zip archive"),
    (lambda b: b[257:262] == b"ustar", "a tar archive"),
    (lambda b: b.startswith(b"7z\xbc\xaf\x27\x1c"), "a 7-Zip archive"),
]


def read_bytes(path: str | Path) -> bytes:
    """The bytes of ``path``, decompressed when they are gzip, bzip2 or xz data.

    Raises:
        DataNotFoundError: the file does not exist.
        DataAccessError: it cannot be read (permission denied) or is a directory.
        DataFormatError: an archive (zip, tar, 7z) rather than one file, or compressed data
            that cannot be decompressed.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise DataNotFoundError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataAccessError(f"{path} is a directory, expected a file") from None
    except PermissionError:
        raise DataAccessError(f"cannot read {path}: permission denied") from None
    except OSError as err:
        raise DataAccessError(f"cannot read {path}: {err.strerror or err}") from None
    for is_archive, kind in _ARCHIVES:
        if is_archive(data):
            raise DataFormatError(path, None, f"{kind}, not a text file: extract it and pass "
                                  "the data file inside")
    for is_compressed, kind, decompress in _COMPRESSED:
        if is_compressed(data):
            try:
                return decompress(data)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as err:
                raise DataFormatError(path, None, f"{kind}-compressed, but cannot be "
                                      f"decompressed ({err}): the file is truncated or "
                                      "corrupt") from None
    return data


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The decoded contents of ``path``; strict decoding, a UTF-8 byte-order mark dropped,
    gzip / bzip2 / xz data decompressed first (see :func:`read_bytes`).

    Raises:
        DataNotFoundError: the file does not exist.
        DataAccessError: it cannot be read, or is a directory.
        DataFormatError: bytes that are not valid ``encoding`` (with the line they are on),
            a NUL character (with its line), an archive, broken compressed data.
    """
    path = Path(path)
    data = read_bytes(path)
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    if utf8 and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DataFormatError(path, 1, "UTF-16 text (byte-order mark): save it as UTF-8")
    try:
        text = data.decode(encoding, errors="strict")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        hint = ""
        if b"\x00" in data:
            hint = " (the file holds NUL bytes: binary data, or UTF-16 text?)"
        elif utf8:
            hint = " (ISO-8859-1 / Latin-1 perhaps?)"
        raise DataFormatError(
            path, line, f"not valid {encoding}: byte 0x{data[err.start]:02x} at byte "
            f"{column} of the line cannot be decoded{hint}") from None
    except LookupError:
        raise ValueError(f"unknown text encoding {encoding!r}") from None
    nul = text.find("\x00")
    if nul >= 0:
        # NumPy strings drop trailing NULs ("3\0" would become "3"): refuse, never merge
        raise DataFormatError(path, text.count("\n", 0, nul) + 1,
                              "NUL character (\\x00): not a text file (binary data, or "
                              "UTF-16 text?)")
    return text.removeprefix("\ufeff")


def read_lines(path: str | Path, encoding: str = "utf-8") -> list[tuple[int, str]]:
    """The non-blank lines of a text file as ``(1-based line number, line)`` pairs.

    Line ends ``\\n`` and ``\\r\\n`` are accepted; lines holding only whitespace (such as a
    trailing newline) are skipped.
    """
    # split("\n"), not splitlines(): splitlines() also breaks at \x1c-\x1e, \x85 and
    # \u2028, which can occur inside Latin-1 text and would shift every later line number.
    text = read_text(path, encoding)
    lines = text.split("\n")
    if "\r" in text:
        lines = [line.removesuffix("\r") for line in lines]
    return [(number, line) for number, line in enumerate(lines, start=1)
            if line and not line.isspace()]


#: Control characters (C0, DEL, C1; ``\n`` cannot occur in a line). None belongs in an id.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # not \n: it joins values below
#: Control characters other than the whitespace separators ``\t \v \f``: none belongs in a
#: line of a whitespace-separated file (``str.split()`` would treat ``\x1c``-``\x1f`` and
#: ``\x85`` as separators, splitting ids silently).
CONTROL_IN_LINE = re.compile("[\x00-\x08\x0d-\x1f\x7f-\x9f]")


def clip(text: str, limit: int = 60) -> str:
    """``repr`` of ``text`` for a message, cut to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _first_match(pattern: re.Pattern, values: Sequence[str]) -> tuple[int, str] | None:
    """``(row, character)`` of the first of ``values`` that ``pattern`` finds something
    in, or ``None``; one regex scan over the joined values (values hold no newline)."""
    joined = "\n".join(values)
    match = pattern.search(joined)
    if match is None:
        return None
    return joined.count("\n", 0, match.start()), match.group()


def check_control(path: Path, values: Sequence[str], lines: Sequence[int], what: str,
                  pattern: re.Pattern = CONTROL) -> None:
    """Raises a :class:`DataFormatError` at the first of ``values`` holding a control
    character (``what``: e.g. ``"user id"``; ``lines[k]``: the line of ``values[k]``)."""
    found = _first_match(pattern, values)
    if found is not None:
        row, char = found
        raise DataFormatError(path, int(lines[row]), f"control character {char!r} in {what} "
                              f"{clip(str(values[row]))}: ids must be printable text")


#: The characters a number may be written with (ASCII only: NumPy, like ``int()``, would
#: also read "٣" as 3 and "1_0" as 10, which no data file means).
_NUMBER_CHARS = {int: frozenset("0123456789+- \t"),
                 float: frozenset("0123456789+-.eE \t")}


def _parse_column(
    path: Path, values: list[str], lines: list[int], name: str, kind: ColumnType,
    header_hint: bool = False,
) -> np.ndarray:
    """One column as an array of ``kind``; ``header_hint``: when only the first row fails,
    say it may be a header line."""
    if kind is str:
        return np.asarray(values, dtype=str)
    if kind not in (int, float):
        raise TypeError(f"column {name!r}: type must be int, float or str (got {kind!r})")
    dtype = np.int64 if kind is int else np.float64
    array = None
    if set("".join(values)) <= _NUMBER_CHARS[kind]:
        try:  # numpy parses like int() / float(), in C
            array = np.asarray(values, dtype=str).astype(dtype)
        except (ValueError, OverflowError):
            array = None
    if array is not None and (kind is int or np.isfinite(array).all()):
        return array
    # Slow path only when something is wrong: find the first offending row.
    what = "an integer" if kind is int else "a finite number"
    allowed = _NUMBER_CHARS[kind]

    def parses(value: str) -> bool:
        if not set(value) <= allowed:
            return False
        try:
            parsed = kind(value)
            if kind is int:
                np.int64(parsed)
            elif not np.isfinite(parsed):
                return False
        except (ValueError, OverflowError):
            return False
        return True

    for row, (value, line) in enumerate(zip(values, lines, strict=True)):
        if not parses(value):
            hint = ""
            if header_hint and row == 0 and all(map(parses, values[1:])):
                hint = (f"; every later row has {what} there, so line {line} looks like a "
                        "header: pass header=True")
            raise DataFormatError(
                path, line, f"column {name!r}: expected {what}, got {clip(value)}{hint}")
    raise AssertionError("unreachable")  # pragma: no cover


def read_table(
    path: str | Path,
    *,
    delimiter: str | None,
    columns: Columns,
    header: bool | Sequence[str] = False,
    encoding: str = "utf-8",
    min_columns: int | None = None,
    allow_extra: bool = False,
) -> Table:
    """Reads a delimited text file into typed numpy columns, strictly.

    Args:
        path: the file.
        delimiter: the field separator (``"\\t"``, ``","``, ``"|"``); ``None`` splits at runs
            of whitespace.
        columns: ``(name, type)`` for each column in file order; ``type`` is ``int``
            (→ ``int64``), ``float`` (→ ``float64``, must be finite) or ``str``.
        header: ``False`` (no header line), ``True`` (skip the first line) or the expected
            header names, checked exactly (catches a wrong file passed for another).
        encoding: the file's text encoding; decoding is strict.
        min_columns: makes trailing columns optional: a file may have between
            ``min_columns`` and ``len(columns)`` columns. The first data row fixes how many;
            every row must have the same number, and columns the file lacks are absent from
            the result (a file has a column or it does not; values are never invented).
        allow_extra: accept (and ignore) columns beyond ``columns``.

    Returns:
        A :class:`Table`: ``dict`` of column name → array, plus ``path`` and ``lines``.

    Raises:
        DataNotFoundError: the file does not exist.
        DataFormatError: with the file and line, for a wrong column count, a value that is
            not a number where one is expected, a wrong header, bytes that are not valid
            ``encoding``, or a file without data rows. Blank lines are skipped.
    """
    path = Path(path)
    names = [name for name, _ in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in {names}")
    most = len(columns)
    least = most if min_columns is None else min_columns
    if not 1 <= least <= most:
        raise ValueError(f"min_columns must be between 1 and {most} (got {min_columns})")
    shown = "whitespace" if delimiter is None else repr(delimiter)

    numbered = read_lines(path, encoding)
    if delimiter is None:
        # str.split() would also split at \x1c-\x1f and \x85: refuse them here instead
        found = _first_match(CONTROL_IN_LINE, [text for _, text in numbered])
        if found is not None:
            raise DataFormatError(path, numbered[found[0]][0], f"control character "
                                  f"{found[1]!r} in a whitespace-separated line")
    total_lines = numbered[-1][0] if numbered else 0
    if header is not False:
        if not numbered:
            raise DataFormatError(path, 1, "empty file: expected a header line and data rows")
        number, line = numbered[0]
        if header is not True:
            found = [field.strip() for field in
                     (line.split() if delimiter is None else line.split(delimiter))]
            if found != list(header):
                raise DataFormatError(
                    path, number, f"expected header {list(header)} (separated by {shown}), "
                    f"got {found}")
        numbered = numbered[1:]
    if not numbered:
        where = "empty file" if total_lines == 0 else "no data rows after the header"
        raise DataFormatError(path, total_lines + 1, f"{where}: no data rows")

    lines = [number for number, _ in numbered]
    texts = [text for _, text in numbered]
    rows: list[list[str]] | None = None
    if delimiter is None:
        rows = [text.split() for text in texts]
        counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    else:  # counting is much cheaper than splitting every line
        counts = np.fromiter((text.count(delimiter) for text in texts), dtype=np.int64,
                             count=len(texts)) + 1
    width = int(counts[0])
    if width < least or (width > most and not allow_extra):
        expected = str(most) if least == most else f"{least} to {most}"
        raise DataFormatError(path, lines[0], f"expected {expected} columns separated by "
                              f"{shown}, got {width}")
    used = min(width, most)
    if allow_extra:
        bad, expected = counts < used, f"at least {used}"
    else:
        bad, expected = counts != width, str(width)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        # With optional columns, say which line fixed the count.
        fixed_by = f" (as on line {lines[0]})" if least != most else ""
        raise DataFormatError(path, lines[row], f"expected {expected} columns separated by "
                              f"{shown}{fixed_by}, got {counts[row]}")

    if rows is None and bool((counts == width).all()):
        # All rows equally wide: one split of the joined text, then strided column slices.
        fields = delimiter.join(texts).split(delimiter)
        column_values = [fields[j::width] for j in range(used)]
    else:
        if rows is None:
            rows = [text.split(delimiter) for text in texts]
        column_values = [[row[j] for row in rows] for j in range(used)]
    result = {name: _parse_column(path, values, lines, name, kind,
                                  header_hint=header is False and len(values) > 1)
              for (name, kind), values in zip(columns[:used], column_values, strict=True)}
    return Table(path, np.asarray(lines, dtype=np.int64), result)


def check_unique(table: Table, column: str) -> None:
    """Raises a :class:`DataFormatError` at the first repeated value of ``column``."""
    values = table[column]
    _, first = np.unique(values, return_index=True)
    repeated = np.ones(len(values), dtype=bool)
    repeated[first] = False
    table.check(repeated, lambda row: f"{column} {shown(values[row])} appears more "
                "than once")


def check_non_negative(table: Table, *columns: str) -> None:
    """Raises a :class:`DataFormatError` at the first negative value of any of ``columns``."""
    for column in columns:
        values = table[column]
        table.check(values < 0, lambda row, c=column, v=values:
                    f"column {c!r}: ids must be non-negative, got {shown(v[row])}")


#: Formats whose ids are indices (LightGCN lists, the SocialLGN split) allocate an index
#: space of the largest id + 1. Ids may leave gaps, but the largest id may be at most
#: ``DENSE_ID_FACTOR`` times the number of distinct ids plus ``DENSE_ID_SLACK``, so memory
#: follows the data's size rather than one stray id (2**40 would need terabytes).
DENSE_ID_FACTOR = 2
DENSE_ID_SLACK = 1024


def check_dense_ids(
    sources: Sequence[tuple[Path, np.ndarray, np.ndarray | None]], what: str
) -> int:
    """The index space size (largest id + 1, 0 without ids) of ids used as indices, after
    checking it is bounded by the data (see :data:`DENSE_ID_FACTOR`).

    Args:
        sources: ``(file, ids, lines)`` per file; ``lines[k]`` is the 1-based line of
            ``ids[k]`` (``None``: no line to point at, e.g. a JSON map).
        what: ``"user"`` or ``"item"``, for the message.

    Raises:
        DataFormatError: at the file and line of the largest id when it is too large.
    """
    arrays = [np.asarray(ids, dtype=np.int64) for _, ids, _ in sources]
    if not any(len(a) for a in arrays):
        return 0
    everything = np.concatenate(arrays)
    largest = int(everything.max())
    distinct = int(len(np.unique(everything)))
    limit = DENSE_ID_FACTOR * distinct + DENSE_ID_SLACK
    if largest < limit:
        return largest + 1
    for (path, _, lines), ids in zip(sources, arrays, strict=True):
        if len(ids) and int(ids.max()) == largest:
            line = None if lines is None else int(lines[int(np.argmax(ids))])
            raise DataFormatError(path, line, f"{what} id {largest} is far beyond the "
                                  f"{distinct} distinct {what} ids of the data: this format "
                                  "uses ids as indices (numbered from 0), so it would need "
                                  f"{largest + 1} {what}s (at most {limit} are accepted); "
                                  "renumber the ids contiguously")
    raise AssertionError("unreachable")  # pragma: no cover


def lookup(sorted_ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``values`` in the sorted array ``sorted_ids``, vectorised.

    Returns:
        ``(index, found)``: ``index[k]`` is the position of ``values[k]`` where ``found[k]``
        (and meaningless elsewhere).
    """
    if len(sorted_ids) == 0:
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    index = np.searchsorted(sorted_ids, values).clip(max=len(sorted_ids) - 1)
    return index.astype(np.int64), sorted_ids[index] == values
