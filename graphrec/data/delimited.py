"""Generic ``user item [weight] [timestamp]`` files, for data sets without a dedicated loader."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from graphrec.data.dataset import RecDataset
from graphrec.data.io import Table, check_control, read_table
from graphrec.graph.build import build_interaction_graph


def _as_int_ids(*arrays: np.ndarray) -> list[np.ndarray] | None:
    """The arrays as int64 if every id is a canonical integer string (``"7"``, ``"-3"``,
    not ``"007"`` or ``"7.0"``), else ``None``.

    Canonical only: converting ``"007"`` and ``"7"`` would merge two ids the file keeps
    apart, so such files keep string ids.
    """
    out = []
    for array in arrays:
        if len(array) == 0:
            out.append(array.astype(np.int64))
            continue
        try:
            ints = array.astype(np.int64)
        except (ValueError, OverflowError):
            return None
        if not bool((ints.astype(str) == array).all()):
            return None
        out.append(ints)
    return out


def check_header_row(table: Table, *columns: np.ndarray) -> None:
    """Refuses a first row that looks like a header: every id of ``columns`` is an integer
    except the first row's, which are all non-integers (``user item``). An honest test: a
    file of integer ids does not name a user or item ``"user"`` on its first line only."""
    if table.num_rows < 2:
        return
    if all(_as_int_ids(column[:1]) is None and _as_int_ids(column[1:]) is not None
           for column in columns):
        names = ", ".join(repr(str(column[0])) for column in columns)
        raise table.fail(0, f"looks like a header line ({names} are not integers while "
                         "every later id is): pass header=True, or remove the line")


def load_delimited(
    path: str | Path,
    *,
    delimiter: str | None = "\t",
    header: bool = False,
    has_weight: bool = False,
    has_time: bool = False,
    social_path: str | Path | None = None,
    in_time_order: bool = False,
) -> RecDataset:
    """Interactions from a delimited text file: ``user item [weight] [timestamp]`` per line.

    Args:
        path: the interaction file (UTF-8).
        delimiter: field separator; ``None`` splits at runs of whitespace.
        header: whether the file (and ``social_path``) starts with a header line to skip.
        has_weight: the third column is a weight (rating, count; any finite number).
        has_time: the next column is an integer timestamp (e.g. unix seconds).
        social_path: optional file of ``user user`` pairs (directed ``follows`` edges), same
            delimiter and header convention. Users only found there become users without
            interactions.
        in_time_order: the lines are in time order (the one-interaction-per-line sequence
            format): the graph keeps each edge's line as ``order`` (the tie-break of equal
            timestamps), and without a timestamp column ``time`` is the line's position.

    The columns are exactly those the flags announce: a file with more or fewer columns is
    an error (with file and line) rather than a guess. Raw ids are read as strings (their
    surrounding whitespace removed; a control character in one is an error at its line,
    so ``"3\\x00"`` can never merge with ``"3"``) and kept as strings, unless every id of
    that kind (users, including those of ``social_path``; items) is a canonical integer, in
    which case ids are ints. Indices follow first appearance in the file. Duplicate
    (user, item) lines are merged (weights summed, earliest time kept). No split is fixed:
    use :mod:`graphrec.graph.split`.

    Without ``header``, a first line that is not data is reported at line 1 with the hint
    to pass ``header=True``: when its weight or time is not a number while every later
    one is, or when its user and item are not integers while every later id is.
    """
    path = Path(path)
    columns: list[tuple[str, type]] = [("user", str), ("item", str)]
    if has_weight:
        columns.append(("weight", float))
    if has_time:
        columns.append(("time", int))
    table = read_table(path, delimiter=delimiter, columns=columns, header=header)
    for column in ("user", "item"):
        check_control(table.path, table[column], table.lines, f"{column} id")
    users = np.char.strip(table["user"])
    items = np.char.strip(table["item"])
    table.check(users == "", lambda r: "empty user id")
    table.check(items == "", lambda r: "empty item id")
    if not header:
        check_header_row(table, users, items)

    social = None
    if social_path is not None:
        pairs = read_table(social_path, delimiter=delimiter, header=header,
                           columns=[("source", str), ("target", str)])
        for column in ("source", "target"):
            check_control(pairs.path, pairs[column], pairs.lines, "user id")
        social = (np.char.strip(pairs["source"]), np.char.strip(pairs["target"]))
        pairs.check((social[0] == "") | (social[1] == ""), lambda r: "empty user id")
        if not header:
            check_header_row(pairs, *social)

    user_arrays = [users] + (list(social) if social is not None else [])
    as_int = _as_int_ids(*user_arrays)
    if as_int is not None:
        users, *rest = as_int
        social = (rest[0], rest[1]) if social is not None else None
    item_int = _as_int_ids(items)
    if item_int is not None:
        items = item_int[0]

    times = table.get("time")
    if in_time_order and times is None:
        times = np.arange(len(users), dtype=np.int64)
    graph = build_interaction_graph(
        users, items, weights=table.get("weight"), times=times, social=social,
        keep_order=in_time_order)
    info = {"source": str(path), "user_ids": "int" if as_int is not None else "str",
            "item_ids": "int" if item_int is not None else "str"}
    return RecDataset(path.stem, graph, None, info)
