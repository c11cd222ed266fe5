"""The adjacency-list format of the LightGCN / NGCF code (Gowalla, Yelp2018, Amazon-Book)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from graphrec.data.dataset import RecDataset
from graphrec.data.errors import DataFormatError, DataNotFoundError
from graphrec.data.io import read_lines
from graphrec.graph.build import INTERACTS, build_interaction_graph
from graphrec.graph.split import fixed_split

FILES = ["train.txt", "test.txt"]


def read_adjacency_lists(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Reads one ``user item item ...`` file (space separated, one user per line).

    Returns:
        ``(users, items, lines, max_user)``: one entry of ``users``/``items``/``lines`` per
        pair (``lines`` = 1-based line of the pair, for error messages) and the largest user
        id on any line, including lines that list a user and no items.

    Raises:
        DataFormatError: a token that is not an integer, a negative id, or no data.
    """
    path = Path(path)
    numbered = read_lines(path)
    if not numbered:
        raise DataFormatError(path, 1, "empty file: no data rows")
    users: list[int] = []
    items: list[int] = []
    lines: list[int] = []
    max_user = -1
    for number, line in numbered:
        tokens = line.split()
        try:
            ids = [int(token) for token in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_int(t))
            raise DataFormatError(path, number, f"expected integer ids, got {bad!r}") from None
        if min(ids) < 0:
            raise DataFormatError(path, number, f"ids must be non-negative, got {min(ids)}")
        user, *row_items = ids
        max_user = max(max_user, user)
        users.extend([user] * len(row_items))
        items.extend(row_items)
        lines.extend([number] * len(row_items))
    return (np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64),
            np.asarray(lines, dtype=np.int64), max_user)


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def load_lightgcn_lists(root: str | Path) -> RecDataset:
    """A data set in the LightGCN adjacency-list format, with its fixed train/test split.

    ``root`` holds ``train.txt`` and ``test.txt``; each line is ``user item item ...``
    (space separated, contiguous integer ids from 0; a line may list a user and no items).
    ``num_users`` / ``num_items`` are the largest id in either file + 1, so users and items
    keep their file ids as indices. Interactions carry no weight or time. ``dataset.split``
    is the files' split (``valid`` is ``None``). A (user, item) pair listed in both files
    is an error, since it would put test data into training.
    """
    root = Path(root)
    missing = [name for name in FILES if not (root / name).is_file()]
    if missing:
        raise DataNotFoundError(f"LightGCN-format data: missing {', '.join(missing)} in {root}. "
                                "Put train.txt and test.txt (lines 'user item item ...') there.")
    train_u, train_i, _, train_max = read_adjacency_lists(root / "train.txt")
    test_u, test_i, test_lines, test_max = read_adjacency_lists(root / "test.txt")
    for name, pairs in (("train.txt", train_u), ("test.txt", test_u)):
        if len(pairs) == 0:  # users but no items at all: nothing to train or test on
            raise DataFormatError(root / name, None, "no (user, item) pairs: every line "
                                  "lists a user without items")
    num_users = max(train_max, test_max) + 1
    num_items = int(max(train_i.max(initial=-1), test_i.max(initial=-1))) + 1

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
