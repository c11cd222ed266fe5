"""Sources of sequential recommendation: one line per user, tagging sequences.

Every loader returns the same :class:`~graphrec.data.RecDataset` interaction graph as the
graph sources, with ``time`` (and ``order``: file order, the tie-break of equal times) on
the interaction edges, so :func:`~graphrec.graph.split.leave_one_out` and
:class:`~graphrec.graph.sequences.Sequences` put each user's items in sequence. The
one-interaction-per-line format (``user item [timestamp]``, lines in time order) is
:func:`~graphrec.data.load_delimited` with ``in_time_order=True``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from graphrec.data.dataset import RecDataset
from graphrec.data.delimited import _as_int_ids
from graphrec.data.errors import DataFormatError
from graphrec.data.io import (
    CONTROL_IN_LINE,
    candidate_dirs,
    check_control,
    locate,
    not_found,
    read_lines,
    resolve_root,
)
from graphrec.data.lastfm import load_lastfm
from graphrec.graph.build import ITEM, TAGGED, USER, build_interaction_graph
from graphrec.graph.checks import shown

BEAUTY_DIR = "amazon-beauty"
BEAUTY_FILE = "Beauty.txt"


def load_sequence_lines(path: str | Path, name: str | None = None) -> RecDataset:
    """One line per user: ``user item1 item2 ...`` (whitespace separated, items in time
    order), e.g. the Amazon Beauty file of the S3-Rec / ICLRec benchmarks.

    ``time`` of an interaction is its position in the user's line (the files carry no
    timestamps), ``order`` its position in the file. Ids are ints when every id of that
    kind is a canonical integer, else strings (as :func:`~graphrec.data.load_delimited`).
    A line without items, or a user with two lines, is a :class:`DataFormatError` naming
    the file and line, as is a control character, or a first line whose tokens are all
    non-integers while every later token is an integer (a header line such as
    ``user items``). An item repeated within a line keeps its first position.
    """
    path = Path(path)
    lines = read_lines(path)
    if not lines:
        raise DataFormatError(path, None, "no data lines")
    check_control(path, [line for _, line in lines], [n for n, _ in lines], "the line",
                  CONTROL_IN_LINE)
    fields = [line.split() for _, line in lines]
    counts = np.fromiter((len(f) for f in fields), dtype=np.int64, count=len(fields))
    short = np.flatnonzero(counts < 2)
    if len(short):
        raise DataFormatError(path, lines[short[0]][0],
                              "expected 'user item1 item2 ...' (a user and at least one item)")
    line_users = np.asarray([f[0] for f in fields])
    _, first, inverse = np.unique(line_users, return_index=True, return_inverse=True)
    repeated = np.flatnonzero(first[inverse.reshape(-1)] != np.arange(len(line_users)))
    if len(repeated):
        row = int(repeated[0])
        raise DataFormatError(path, lines[row][0], f"user {shown(line_users[row])} already "
                              f"has a line (line {lines[int(first[inverse[row]])][0]})")
    items = np.asarray([item for f in fields for item in f[1:]])
    first_all_text = all(_as_int_ids(np.asarray([token])) is None for token in fields[0])
    if len(lines) > 1 and first_all_text and _as_int_ids(
            np.asarray([token for f in fields[1:] for token in f])) is not None:
        raise DataFormatError(path, lines[0][0], f"looks like a header line ({lines[0][1]!r} "
                              "holds no integer while every later id is one): remove it")
    lengths = counts - 1
    users = np.repeat(line_users, lengths)
    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(items), dtype=np.int64) - np.repeat(starts, lengths)
    as_int = _as_int_ids(users)
    users = as_int[0] if as_int is not None else users
    item_int = _as_int_ids(items)
    items = item_int[0] if item_int is not None else items
    graph = build_interaction_graph(users, items, times=position, keep_order=True)
    info = {"source": str(path), "time": "position in the user's line"}
    return RecDataset(name or path.stem.lower(), graph, None, info)


def load_beauty(root: str | Path | None = None, download: bool = True) -> RecDataset:
    """Amazon Beauty 5-core as a sequence benchmark: ``Beauty.txt`` (22,363 users, 12,101
    items, 198,502 interactions) read by :func:`load_sequence_lines`; ``root`` may be the
    data folder, ``root/amazon-beauty`` or the file's folder. There is no official download
    (``download`` is accepted for a uniform registry)."""
    del download
    folder = locate(root, BEAUTY_DIR, None, [BEAUTY_FILE])
    if folder is None:
        raise not_found("Amazon Beauty", [BEAUTY_FILE], resolve_root(root) / BEAUTY_DIR,
                        searched=candidate_dirs(root, BEAUTY_DIR, None))
    return load_sequence_lines(folder / BEAUTY_FILE, name="beauty")


def load_lastfm_tags(root: str | Path | None = None, download: bool = True) -> RecDataset:
    """Last.fm tagging sequences: per user, the artists in the order they were first tagged
    (``user_taggedartists.dat``, day resolution; same-day events keep file order).

    Users and items are those of :func:`~graphrec.data.load_lastfm` (same indices and
    ``id_map``); a user who tagged nothing has an empty sequence. ``time`` is unix seconds
    of the UTC day of the first tagging of that artist by that user.
    """
    lastfm = load_lastfm(root, download=download)
    source = lastfm.graph
    tagged = source[TAGGED]
    num_users, num_items = source[USER].num_nodes, source[ITEM].num_nodes
    graph = build_interaction_graph(
        tagged.edge_index[0], tagged.edge_index[1], times=tagged.time,
        user_ids=list(range(num_users)), item_ids=list(range(num_items)), keep_order=True)
    graph[USER].id_map = source[USER].id_map
    graph[ITEM].id_map = source[ITEM].id_map
    if "name" in source[ITEM]:
        graph[ITEM].name = source[ITEM].name
    info = {"source": lastfm.info.get("source"), "time": "UTC day of the first tagging",
            "tagging_events": int(tagged.edge_index.size(1))}
    return RecDataset("lastfm-tags", graph, None, info)
