"""The adjacency-list format of the LightGCN / NGCF code (Gowalla, Yelp2018, Amazon-Book)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from graphrec.data.dataset import RecDataset
from graphrec.data.errors import DataFormatError, DataNotFoundError
from graphrec.data.io import CONTROL_IN_LINE, check_control, check_dense_ids, read_lines
from graphrec.graph.build import INTERACTS, build_interaction_graph
from graphrec.graph.split import fixed_split

FILES = ["train.txt", "test.txt"]


#: An id token: ASCII digits, optionally signed (negative ids are refused with their own
#: message); ``int()`` alone would also take "1_0" or "٣".
_INT_TOKEN = re.compile(r"[+-]?[0-9]+")


def read_adjacency_lists(
    path: str | Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads one ``user item item ...`` file (whitespace separated, one user per line).

    Returns:
        ``(users, items, lines, line_users, line_numbers)``: one entry of
        ``users``/``items``/``lines`` per pair (``lines`` = 1-based line of the pair, for
        error messages), and the user and line of every line, including lines that list a
        user and no items.

    Raises:
        DataFormatError: a token that is not an integer, a negative id, a control character,
            or no data.
    """
    path = Path(path)
    numbered = read_lines(path)
    if not numbered:
        raise DataFormatError(path, 1, "empty file: no data rows")
    check_control(path, [line for _, line in numbered], [n for n, _ in numbered],
                  "the line", CONTROL_IN_LINE)
    users: list[int] = []
    items: list[int] = []
    lines: list[int] = []
    line_users: list[int] = []
    for number, line in numbered:
        tokens = line.split()
        bad = next((t for t in tokens if not _INT_TOKEN.fullmatch(t)), None)
        if bad is not None:
            raise DataFormatError(path, number, f"expected integer ids, got {bad[:40]!r}")
        big = next((t for t in tokens if len(t.lstrip("+-")) > 18), None)
        if big is not None:  # beyond int64 (and far beyond any index space)
            raise DataFormatError(path, number, f"id {big[:40]!r} is too large")
        ids = [int(token) for token in tokens]
        if min(ids) < 0:
            raise DataFormatError(path, number, f"ids must be non-negative, got {min(ids)}")
        user, *row_items = ids
        line_users.append(user)
        users.extend([user] * len(row_items))
        items.extend(row_items)
        lines.extend([number] * len(row_items))
    return (np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64),
            np.asarray(lines, dtype=np.int64), np.asarray(line_users, dtype=np.int64),
            np.asarray([n for n, _ in numbered], dtype=np.int64))


def load_lightgcn_lists(root: str | Path, download: bool = True) -> RecDataset:
    """A data set in the LightGCN adjacency-list format, with its fixed train/test split.

    ``root`` holds ``train.txt`` and ``test.txt``; each line is ``user item item ...``
    (space separated, contiguous integer ids from 0; a line may list a user and no items).
    ``num_users`` / ``num_items`` are the largest id in either file + 1, so users and items
    keep their file ids as indices. Since the index space follows the largest id, an id far
    beyond the data (more than twice the number of distinct ids plus 1,024, see
    :func:`~graphrec.data.io.check_dense_ids`) is an error at its line rather than an
    allocation of that many users or items. Interactions carry no weight or time.
    ``dataset.split`` is the files' split (``valid`` is ``None``). A (user, item) pair
    listed in both files is an error, since it would put test data into training.
    ``download`` is accepted for a uniform registry; this format has no download.
    """
    del download
    root = Path(root)
    missing = [name for name in FILES if not (root / name).is_file()]
    if missing:
        raise DataNotFoundError(f"LightGCN-format data: missing {', '.join(missing)} in {root}. "
                                "Put train.txt and test.txt (lines 'user item item ...') there.")
    train_path, test_path = root / "train.txt", root / "test.txt"
    train_u, train_i, train_lines, train_line_u, train_numbers = read_adjacency_lists(
        train_path)
    test_u, test_i, test_lines, test_line_u, test_numbers = read_adjacency_lists(test_path)
    for path, pairs in ((train_path, train_u), (test_path, test_u)):
        if len(pairs) == 0:  # users but no items at all: nothing to train or test on
            raise DataFormatError(path, None, "no (user, item) pairs: every line lists a "
                                  "user without items")
    num_users = check_dense_ids([(train_path, train_line_u, train_numbers),
                                 (test_path, test_line_u, test_numbers)], "user")
    num_items = check_dense_ids([(train_path, train_i, train_lines),
                                 (test_path, test_i, test_lines)], "item")

    train_key = train_u * num_items + train_i
    overlap = np.flatnonzero(np.isin(test_u * num_items + test_i, train_key))
    if len(overlap):
        k = overlap[0]
        raise DataFormatError(root / "test.txt", int(test_lines[k]),
                              f"pair ({test_u[k]}, {test_i[k]}) is also in train.txt")

    graph = build_interaction_graph(
        np.concatenate([train_u, test_u]), np.concatenate([train_i, test_i]),
        user_ids=range(num_users), item_ids=range(num_items))
    split = fixed_split(graph, train=(torch.from_numpy(train_u), torch.from_numpy(train_i)),
                        test=(torch.from_numpy(test_u), torch.from_numpy(test_i)))
    info = {"source": str(root), "merged_duplicate_pairs":
            int(len(train_u) + len(test_u) - graph[INTERACTS].edge_index.size(1))}
    return RecDataset(root.name or "lightgcn", graph, split, info)
