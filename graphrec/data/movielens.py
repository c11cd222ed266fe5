"""MovieLens 100K (GroupLens): ratings with timestamps, movie genres, user demographics."""
from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from graphrec.data.dataset import RecDataset
from graphrec.data.io import (
    Table,
    check_unique,
    find_or_download,
    lookup,
    not_found,
    read_table,
)
from graphrec.graph.build import INTERACTS, ITEM, USER, build_interaction_graph
from graphrec.graph.checks import shown
from graphrec.graph.features import rbf_encoding
from graphrec.graph.side_info import MOVIELENS_GENRES as GENRES
from graphrec.graph.side_info import add_movielens_side_info
from graphrec.graph.split import Split, fixed_split

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
DATASET_DIR = "ml-100k"
FILES = ["u.data", "u.item", "u.user"]
#: The official splits shipped in ml-100k.zip: five 80/20 cross-validation folds (u1..u5, test
#: parts disjoint) and two with exactly 10 test ratings per user (ua, ub).
FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")

#: The 21 occupations of ``u.user`` (as listed in ``u.occupation``).
OCCUPATIONS = ["administrator", "artist", "doctor", "educator", "engineer", "entertainment",
               "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing",
               "none", "other", "programmer", "retired", "salesman", "scientist", "student",
               "technician", "writer"]
GENDERS = ["M", "F"]

_EPOCH = Date(1970, 1, 1)


def _find(root: str | Path | None, download: bool) -> Path:
    return find_or_download(root, DATASET_DIR, None, FILES, what="MovieLens 100K", url=URL,
                            download=download)


def _one_hot(table: Table, column: str, categories: list[str]) -> np.ndarray:
    values = table[column]
    index = np.full(len(values), -1, dtype=np.int64)
    for k, category in enumerate(categories):
        index[values == category] = k
    table.check(index < 0, lambda r: f"{column} {shown(values[r])} is not one of {categories}")
    return np.eye(len(categories), dtype=np.float32)[index]


def _release_dates(items: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Release year and day (days since 1970-01-01, float; NaN if empty) per movie from
    dates like ``01-Jan-1995``, and the missing flag (year ``0`` where missing)."""
    dates = items["release_date"]
    years = np.zeros(len(dates), dtype=np.int64)
    days = np.full(len(dates), np.nan)
    missing = np.zeros(len(dates), dtype=bool)
    for row, date in enumerate(dates.tolist()):  # 1,682 rows: a loop is fine
        if not date.strip():
            missing[row] = True
            continue
        try:  # "%b" is the English month abbreviation (Python's default C locale)
            day = datetime.strptime(date.strip(), "%d-%b-%Y").date()
        except ValueError:
            raise items.fail(row, f"release date {date!r} is not a date like '01-Jan-1995'"
                             ) from None
        years[row] = day.year
        days[row] = float((day - _EPOCH).days)
    return years, days, missing


def _fold_part(path: Path, graph, keys: Tensor) -> tuple[Table, Tensor]:
    """One fold file's ratings as ``user * num_items + item`` keys of ``graph``; each row
    must be a rating of ``u.data`` with the same value."""
    num_items = graph[ITEM].num_nodes
    table = read_table(path, delimiter="\t", columns=[("user", int), ("item", int),
                                                      ("rating", float), ("timestamp", int)])
    indices = {}
    for column, node in (("user", USER), ("item", ITEM)):
        ids = np.asarray(graph[node].id_map.raw_ids, dtype=np.int64)
        order = np.argsort(ids)
        position, found = lookup(ids[order], table[column])
        table.check(~found, lambda r, c=column: f"{c} id {table[c][r]} is not in u.{c}")
        indices[column] = order[position]
    query = torch.from_numpy(indices["user"] * num_items + indices["item"])
    position = torch.searchsorted(keys, query).clamp(max=keys.numel() - 1)
    table.check((keys[position] != query).numpy(), lambda r: f"rating of user "
                f"{table['user'][r]} for item {table['item'][r]} is not in u.data")
    rating = graph[INTERACTS].edge_weight[position].numpy()
    table.check(rating != table["rating"], lambda r: f"rating {table['rating'][r]} differs "
                f"from u.data's {rating[r]}")
    return table, query


def _fold_split(folder: Path, fold: str, graph) -> Split:
    """The official ``<fold>.base`` / ``<fold>.test`` split: every row must be a rating of
    ``u.data`` (same user, item and rating) and no pair may be in both files."""
    if fold not in FOLDS:
        raise ValueError(f"fold must be one of {FOLDS} (got {fold!r})")
    edge_index = graph[INTERACTS].edge_index
    num_items = graph[ITEM].num_nodes
    keys = edge_index[0] * num_items + edge_index[1]   # sorted: the graph's edge order
    for part in ("base", "test"):
        if not (folder / f"{fold}.{part}").is_file():
            raise not_found(f"MovieLens 100K fold {fold}", [f"{fold}.{part}"], folder, URL)
    _, base_keys = _fold_part(folder / f"{fold}.base", graph, keys)
    test, test_keys = _fold_part(folder / f"{fold}.test", graph, keys)
    overlap = np.isin(test_keys.numpy(), base_keys.numpy())
    test.check(overlap, lambda r: f"rating of user {test['user'][r]} for item {test['item'][r]} "
               f"is also in {fold}.base")
    return fixed_split(graph, train=(base_keys // num_items, base_keys % num_items),
                       test=(test_keys // num_items, test_keys % num_items))


def load_movielens_100k(root: str | Path | None = None, download: bool = True,
                        release_date_features: int = 0, side_info: bool = False,
                        fold: str | None = None) -> RecDataset:
    r"""MovieLens 100K: 943 users, 1,682 movies, 100,000 ratings with unix timestamps.

    Files (from ``ml-100k.zip``; looked up with :func:`~graphrec.data.io.locate`, ``root``
    may be the data folder or ``root/ml-100k``; downloaded there when absent and
    ``download`` and ``$GRAPHREC_OFFLINE`` is not set)::

        u.data   user item rating timestamp             tab separated, no header
        u.item   id|title|release date|video release date|IMDb URL|19 genre flags
                 '|' separated, ISO-8859-1
        u.user   id|age|gender|occupation|zip code     '|' separated

    Graph: users and items indexed in ``u.user`` / ``u.item`` order (ids 1..n, so index =
    id - 1); ``edge_weight`` = rating (1-5), ``time`` = unix timestamp, ``order`` = the
    ``u.data`` row (the tie-break of equal timestamps when ratings are put in sequence).

    * ``graph['item'].name``: titles; ``graph['item'].release_day``: release dates as days
      since 1970-01-01 (float64, NaN without a date). ``graph['item'].x`` (21 columns): the
      19 genre flags, the release year scaled to [0, 1] over the years present (1922 → 0,
      1998 → 1), and a flag that is 1 for a movie without a release date (one such movie,
      id 267 "unknown"; its year column is 0, so the flag is what tells it apart from the
      earliest year).
    * ``graph['user'].x`` (24 columns): age / 100, gender one-hot (M, F), occupation
      one-hot over the 21 official occupations.

    ``release_date_features=K`` (> 0) appends the release date as K Gaussian bumps at date
    quantiles to ``graph['item'].x`` (:func:`~graphrec.graph.features.rbf_encoding`: inner
    products then say how close two release dates are, which the scaled year is too coarse
    to say; PinSAGE's MovieLens preset uses K = 32).

    ``side_info=True`` adds genres and 5-year release buckets as node types
    (:func:`~graphrec.graph.side_info.add_movielens_side_info`: ``('item', 'has_genre',
    'genre')``, ``('item', 'released_in', 'year')``).

    Column names are in ``dataset.info['item_feature_names']`` / ``['user_feature_names']``.
    A rating naming a user or item absent from ``u.user`` / ``u.item`` is an error.

    ``fold="u1"`` … ``"u5"`` (the official five-fold cross-validation, 80,000 / 20,000
    ratings; test parts disjoint) or ``"ua"`` / ``"ub"`` (10 test ratings per user) sets
    ``dataset.split`` from ``<fold>.base`` (train) and ``<fold>.test`` (test; ``valid`` is
    ``None``), files of the same zip. Their rows must be ratings of ``u.data`` (same rating)
    and no pair may be in both files; otherwise a :class:`DataFormatError` names the line.
    """
    folder = _find(root, download)
    ratings = read_table(folder / "u.data", delimiter="\t",
                         columns=[("user", int), ("item", int), ("rating", float),
                                  ("timestamp", int)])
    items = read_table(
        folder / "u.item", delimiter="|", encoding="iso-8859-1",
        columns=[("id", int), ("title", str), ("release_date", str), ("video_date", str),
                 ("url", str)] + [(f"genre_{k}", int) for k in range(len(GENRES))])
    users = read_table(folder / "u.user", delimiter="|",
                       columns=[("id", int), ("age", float), ("gender", str),
                                ("occupation", str), ("zip", str)])
    check_unique(items, "id")
    check_unique(users, "id")

    # Refuse ratings of unknown users/items here, where the u.data line is known.
    user_order, item_order = np.argsort(users["id"]), np.argsort(items["id"])
    for column, ids, order, source in (("user", users["id"], user_order, "u.user"),
                                       ("item", items["id"], item_order, "u.item")):
        _, found = lookup(ids[order], ratings[column])
        ratings.check(~found, lambda r, c=column, s=source:
                      f"{c} id {ratings[c][r]} is not in {s}")

    genres = np.stack([items[f"genre_{k}"] for k in range(len(GENRES))], axis=1)
    bad = ~np.isin(genres, (0, 1)).all(axis=1)
    items.check(bad, lambda r: f"genre flags must be 0 or 1, got {genres[r].tolist()}")
    years, release_days, missing = _release_dates(items)
    if (~missing).any():
        low, high = int(years[~missing].min()), int(years[~missing].max())
        scaled = np.where(missing, 0.0, (years - low) / max(high - low, 1))
    else:
        low = high = 0
        scaled = np.zeros(len(years))
    item_x = np.concatenate([genres.astype(np.float32), scaled[:, None].astype(np.float32),
                             missing[:, None].astype(np.float32)], axis=1)

    users.check(users["age"] < 0, lambda r: f"age {users['age'][r]} is negative")
    user_x = np.concatenate([(users["age"] / 100.0)[:, None].astype(np.float32),
                             _one_hot(users, "gender", GENDERS),
                             _one_hot(users, "occupation", OCCUPATIONS)], axis=1)

    graph = build_interaction_graph(
        ratings["user"], ratings["item"], weights=ratings["rating"], times=ratings["timestamp"],
        user_ids=users["id"].tolist(), item_ids=items["id"].tolist(),
        user_features=user_x, item_features=item_x, keep_order=True)
    graph[ITEM].name = items["title"].tolist()
    graph[ITEM].release_day = torch.from_numpy(release_days)
    date_names: list[str] = []
    if release_date_features:
        if int(release_date_features) < 0:
            raise ValueError(f"release_date_features must be >= 0 (got {release_date_features})")
        graph[ITEM].x = torch.cat([graph[ITEM].x, rbf_encoding(graph[ITEM].release_day,
                                                               int(release_date_features))], 1)
        date_names = [f"release_date_rbf:{k}" for k in range(int(release_date_features))]
    info = {
        "source": str(folder),
        "item_feature_names": [f"genre:{g}" for g in GENRES]
        + ["release_year_scaled", "release_year_missing"] + date_names,
        "user_feature_names": ["age/100"] + [f"gender:{g}" for g in GENDERS]
        + [f"occupation:{o}" for o in OCCUPATIONS],
        "release_year_range": (low, high),
        "items_without_release_date": int(missing.sum()),
    }
    # column names on the graph too, so feature builders (graph/feature_matrix.py) group
    # the columns into named fields (genre, gender, occupation, ...)
    graph[USER].feature_names = list(info["user_feature_names"])
    graph[ITEM].feature_names = list(info["item_feature_names"])
    if side_info:
        add_movielens_side_info(graph, info)
    split = None
    if fold is not None:
        split = _fold_split(folder, fold, graph)
        info["fold"] = fold
    return RecDataset("movielens-100k", graph, split, info)
