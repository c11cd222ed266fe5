"""Last.fm (HetRec 2011): the raw GroupLens files and the SocialLGN split of them."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from graphrec.data.dataset import RecDataset
from graphrec.data.errors import DataFormatError
from graphrec.data.io import (
    Table,
    candidate_dirs,
    check_dense_ids,
    check_non_negative,
    check_unique,
    find_or_download,
    locate,
    lookup,
    not_found,
    read_table,
    read_text,
    resolve_root,
)
from graphrec.graph.build import HAS_TAG, ITEM, TAG, TAGGED, USER, IdMap, build_interaction_graph
from graphrec.graph.side_info import add_lastfm_side_info
from graphrec.graph.split import fixed_split

URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
DATASET_DIR = "lastfm"
RAW_DIR = "raw"
SOCIALLGN_DIR = "sociallgn_split"


RAW_FILES = ["user_artists.dat", "user_friends.dat", "artists.dat", "tags.dat",
             "user_taggedartists.dat"]
SOCIALLGN_FILES = ["train_set.txt", "test_set.txt", "trust.txt", "userReindex.json",
                   "itemReindex.json"]


def _find_raw(root: str | Path | None, download: bool) -> Path:
    return find_or_download(root, DATASET_DIR, RAW_DIR, RAW_FILES, what="Last.fm HetRec 2011",
                            url=URL, download=download)


def _read_artist_names(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Artist ids (sorted) and their names from ``artists.dat`` (UTF-8)."""
    artists = read_table(folder / "artists.dat", delimiter="\t",
                         columns=[("id", int), ("name", str), ("url", str), ("pictureURL", str)],
                         header=["id", "name", "url", "pictureURL"], encoding="utf-8")
    check_unique(artists, "id")
    order = np.argsort(artists["id"], kind="stable")
    return artists["id"][order], artists["name"][order]


def _names_for(ids: np.ndarray, artist_ids: np.ndarray, artist_names: np.ndarray) -> list[str]:
    """Names aligned to ``ids``; ``""`` for an id that ``artists.dat`` does not list."""
    index, found = lookup(artist_ids, ids)
    return np.where(found, artist_names[index] if len(artist_names) else "", "").tolist()


def _utc_midnight(table: Table) -> np.ndarray:
    """Unix seconds of UTC midnight of each row's ``day``/``month``/``year`` (vectorised)."""
    year, month, day = table["year"], table["month"], table["day"]
    table.check((month < 1) | (month > 12), lambda r: f"month {month[r]} is not in 1..12")
    table.check((year < 1) | (year > 9999), lambda r: f"year {year[r]} is not in 1..9999")
    # before the date arithmetic below, which a huge day would overflow
    table.check((day < 1) | (day > 31), lambda r: f"day {day[r]} is not in 1..31")
    month_start = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    date = month_start.astype("datetime64[D]") + (day - 1)
    next_month = (month_start + 1).astype("datetime64[D]")
    table.check((day < 1) | (date >= next_month),
                lambda r: f"day {day[r]} does not exist in {year[r]}-{month[r]:02d}")
    return date.astype("datetime64[s]").astype(np.int64)


def load_lastfm(root: str | Path | None = None, download: bool = True,
                side_info_top_tags: int = 0) -> RecDataset:
    r"""Last.fm HetRec 2011 (1,892 users, 17,632 artists) from the original GroupLens files.

    ``side_info_top_tags=k`` (> 0) adds each artist's k most frequent tags as the node type
    ``'tag'`` with ``('item', 'top_tag', 'tag')``
    (:func:`~graphrec.graph.side_info.add_lastfm_side_info`).

    Files (tab separated, one header line each)::

        user_artists.dat        userID artistID weight      interactions; weight = play count
        user_friends.dat        userID friendID             social links, both directions
        artists.dat             id name url pictureURL      UTF-8
        tags.dat                tagID tagValue              ISO-8859-1, *not* UTF-8
        user_taggedartists.dat  userID artistID tagID day month year

    They are looked up with :func:`~graphrec.data.io.locate` (``root`` may be the data
    folder, ``root/lastfm`` or ``root/lastfm/raw``). When absent they are downloaded from
    GroupLens into ``<root>/lastfm/raw`` if ``download``; otherwise, or if the download fails,
    :class:`~graphrec.data.errors.DataNotFoundError` says what to put where.

    Graph (see :func:`~graphrec.graph.build_interaction_graph`):

    * users and items are the users and artists of ``user_artists.dat`` (plus users that only
      appear in ``user_friends.dat``), indexed in ascending raw id. This is the order the
      SocialLGN split uses too, so indices agree with :func:`load_lastfm_sociallgn`.
    * ``('user', 'interacts', 'item')`` with ``edge_weight`` = play count; no timestamps
      (HetRec gives none for listening). Repeated rows are merged (counts summed).
    * ``('user', 'follows', 'user')`` from ``user_friends.dat`` (25,434 directed edges,
      12,717 friendships).
    * ``graph['item'].name``: artist names (``""`` for an artist ``artists.dat`` lacks).
    * node type ``'tag'`` (``num_nodes``, ``name``, ``id_map``) from ``tags.dat``.
    * ``('user', 'tagged', 'item')``: one edge per tagging event, in file order, with
      ``tag`` (tag index) and ``time`` (unix seconds of UTC midnight of the given date; a
      few rows carry implausible years such as 1956, kept as they are).
    * ``('item', 'has_tag', 'tag')``: distinct (item, tag) pairs with ``edge_weight`` =
      number of tagging events.

    Tagging rows naming artists that are not items (390 artists that nobody listened to,
    1,538 rows) are dropped; the count is in ``dataset.info['dropped_tagging_rows']``. A
    tagging row naming an unknown user or tag is an error, as is any malformed line.
    """
    folder = _find_raw(root, download)
    listens = read_table(folder / "user_artists.dat", delimiter="\t",
                         columns=[("user", int), ("artist", int), ("weight", float)],
                         header=["userID", "artistID", "weight"])
    friends = read_table(folder / "user_friends.dat", delimiter="\t",
                         columns=[("user", int), ("friend", int)], header=["userID", "friendID"])
    tags = read_table(folder / "tags.dat", delimiter="\t", columns=[("id", int), ("name", str)],
                      header=["tagID", "tagValue"], encoding="iso-8859-1")
    tagging = read_table(
        folder / "user_taggedartists.dat", delimiter="\t",
        columns=[("user", int), ("artist", int), ("tag", int), ("day", int), ("month", int),
                 ("year", int)],
        header=["userID", "artistID", "tagID", "day", "month", "year"])
    artist_ids, artist_names = _read_artist_names(folder)
    check_unique(tags, "id")

    # Ascending raw ids: reproducible and identical to the SocialLGN reindexing.
    user_ids = np.unique(np.concatenate([listens["user"], friends["user"], friends["friend"]]))
    item_ids = np.unique(listens["artist"])
    graph = build_interaction_graph(
        listens["user"], listens["artist"], weights=listens["weight"],
        social=(friends["user"], friends["friend"]),
        user_ids=user_ids.tolist(), item_ids=item_ids.tolist())
    graph[ITEM].name = _names_for(item_ids, artist_ids, artist_names)

    tag_order = np.argsort(tags["id"], kind="stable")
    tag_ids, tag_names = tags["id"][tag_order], tags["name"][tag_order]
    graph[TAG].num_nodes = len(tag_ids)
    graph[TAG].name = tag_names.tolist()
    graph[TAG].id_map = IdMap(tag_ids.tolist())

    # Tagging events, vectorised: map raw ids with searchsorted on the sorted id arrays.
    user_index, user_found = lookup(user_ids, tagging["user"])
    tagging.check(~user_found, lambda r: f"userID {tagging['user'][r]} has no listening data "
                  "in user_artists.dat")
    tag_index, tag_found = lookup(tag_ids, tagging["tag"])
    tagging.check(~tag_found, lambda r: f"tagID {tagging['tag'][r]} is not in tags.dat")
    time = _utc_midnight(tagging)
    item_index, keep = lookup(item_ids, tagging["artist"])
    user_index, item_index, tag_index, time = (
        a[keep] for a in (user_index, item_index, tag_index, time))
    graph[TAGGED].edge_index = torch.from_numpy(np.stack([user_index, item_index]))
    graph[TAGGED].tag = torch.from_numpy(tag_index)
    graph[TAGGED].time = torch.from_numpy(time)

    pair_key, counts = np.unique(item_index * len(tag_ids) + tag_index, return_counts=True)
    graph[HAS_TAG].edge_index = torch.from_numpy(
        np.stack([pair_key // len(tag_ids), pair_key % len(tag_ids)]))
    graph[HAS_TAG].edge_weight = torch.from_numpy(counts.astype(np.float32))

    num_edges = graph[USER, "interacts", ITEM].edge_index.size(1)
    info = {
        "source": str(folder),
        "dropped_tagging_rows": int((~keep).sum()),
        "dropped_tagging_artists": int(len(np.unique(tagging["artist"][~keep]))),
        "merged_duplicate_interactions": int(listens.num_rows - num_edges),
        "items_without_name": int(sum(1 for name in graph[ITEM].name if not name)),
    }
    if side_info_top_tags:
        # each artist's top tags as a side-information node type (EGES, feature models)
        if int(side_info_top_tags) < 0:
            raise ValueError(f"side_info_top_tags must be >= 0 (got {side_info_top_tags})")
        add_lastfm_side_info(graph, top_k=int(side_info_top_tags))
    return RecDataset("lastfm", graph, None, info)


def _read_reindex(path: Path) -> dict[int, int]:
    """A SocialLGN ``*Reindex.json``: raw HetRec id (string key) → contiguous id."""
    text = read_text(path, encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"not valid JSON: {err.msg}") from None
    except RecursionError:
        raise DataFormatError(path, None, "not valid JSON: nested too deeply") from None
    except ValueError as err:  # e.g. an integer literal beyond Python's digit limit
        raise DataFormatError(path, None, f"not valid JSON: {err}") from None
    if not isinstance(raw, dict):
        raise DataFormatError(path, None, "expected a JSON object {raw id: index}")
    out: dict[int, int] = {}
    for key, value in raw.items():
        if re.fullmatch(r"-?[0-9]{1,18}", key) is None:  # 18 digits: fits int64
            raise DataFormatError(path, None, f"key {key!r} is not an integer id")
        raw_id = int(key)
        if (not isinstance(value, int) or isinstance(value, bool) or value < 0
                or value >= 2**62):
            raise DataFormatError(path, None, f"value for {key!r} is not a non-negative "
                                  f"integer: {value!r}")
        out[raw_id] = value
    if len(set(out.values())) != len(out):
        raise DataFormatError(path, None, "two raw ids map to the same index")
    return out


def _check_disjoint(train: Table, test: Table, num_items: int) -> None:
    """A pair in both train and test would leak test data into training: refuse it."""
    train_key = train["user"] * num_items + train["item"]
    test_key = test["user"] * num_items + test["item"]
    test.check(np.isin(test_key, train_key), lambda r: f"pair ({test['user'][r]}, "
               f"{test['item'][r]}) is also in {train.path.name}")


def load_lastfm_sociallgn(root: str | Path | None = None, download: bool = True
                          ) -> RecDataset:
    """The LastFM split published with SocialLGN (Liao et al., Information Sciences 2022).

    Files, in ``sociallgn_split/`` (``root`` may be the data folder, ``root/lastfm`` or the
    split folder itself)::

        train_set.txt, test_set.txt   header "user,item"; contiguous ids
        trust.txt                     header "user,friend"
        userReindex.json, itemReindex.json   {raw HetRec id: contiguous id}

    The graph holds train and test interactions (no weights: the split has none) with user
    and item indices equal to the file ids (``num_users``/``num_items`` = largest id + 1 over
    the files and the reindex maps) and ``follows`` edges from ``trust.txt``.
    ``dataset.split`` is the published split (``valid`` is ``None``: see
    :func:`graphrec.graph.split.holdout_validation`). If the raw HetRec folder sits next to
    the split (``lastfm/raw``), ``graph['item'].name`` holds artist names via
    ``itemReindex.json``.

    Ids are indices, so one far beyond the data is an error at its line (see
    :func:`~graphrec.data.io.check_dense_ids`) rather than an allocation of that many nodes.

    There is no official download for this split (``download`` is accepted for a uniform
    registry); missing files raise :class:`~graphrec.data.errors.DataNotFoundError` naming
    them and the folder.
    """
    del download
    folder = locate(root, DATASET_DIR, SOCIALLGN_DIR, SOCIALLGN_FILES)
    if folder is None:
        raise not_found("Last.fm SocialLGN split (published with the SocialLGN code; no "
                        "official download)", SOCIALLGN_FILES,
                        resolve_root(root) / DATASET_DIR / SOCIALLGN_DIR,
                        searched=candidate_dirs(root, DATASET_DIR, SOCIALLGN_DIR))
    pair = [("user", int), ("item", int)]
    train = read_table(folder / "train_set.txt", delimiter=",", columns=pair,
                       header=["user", "item"])
    test = read_table(folder / "test_set.txt", delimiter=",", columns=pair,
                      header=["user", "item"])
    trust = read_table(folder / "trust.txt", delimiter=",",
                       columns=[("user", int), ("friend", int)], header=["user", "friend"])
    for table in (train, test):
        check_non_negative(table, "user", "item")
    check_non_negative(trust, "user", "friend")
    user_map = _read_reindex(folder / "userReindex.json")
    item_map = _read_reindex(folder / "itemReindex.json")

    user_values = np.fromiter(user_map.values(), dtype=np.int64, count=len(user_map))
    item_values = np.fromiter(item_map.values(), dtype=np.int64, count=len(item_map))
    num_users = check_dense_ids(
        [(train.path, train["user"], train.lines), (test.path, test["user"], test.lines),
         (trust.path, trust["user"], trust.lines), (trust.path, trust["friend"], trust.lines),
         (folder / "userReindex.json", user_values, None)], "user")
    num_items = check_dense_ids(
        [(train.path, train["item"], train.lines), (test.path, test["item"], test.lines),
         (folder / "itemReindex.json", item_values, None)], "item")
    _check_disjoint(train, test, num_items)

    graph = build_interaction_graph(
        np.concatenate([train["user"], test["user"]]),
        np.concatenate([train["item"], test["item"]]),
        social=(trust["user"], trust["friend"]),
        user_ids=range(num_users), item_ids=range(num_items))
    split = fixed_split(
        graph,
        train=(torch.from_numpy(train["user"]), torch.from_numpy(train["item"])),
        test=(torch.from_numpy(test["user"]), torch.from_numpy(test["item"])))

    info: dict = {"source": str(folder),
                  "merged_duplicate_rows": int(train.num_rows + test.num_rows
                                               - graph[USER, "interacts", ITEM].num_edges)}
    raw = folder.parent / RAW_DIR
    if not (raw / "artists.dat").is_file():
        raw = locate(root, DATASET_DIR, RAW_DIR, ["artists.dat"])
    if raw is not None:
        artist_ids, artist_names = _read_artist_names(raw)
        raw_item = np.full(num_items, -1, dtype=np.int64)  # -1: no raw id known
        raw_item[list(item_map.values())] = list(item_map.keys())
        graph[ITEM].name = _names_for(raw_item, artist_ids, artist_names)
        info["names_from"] = str(raw / "artists.dat")
    return RecDataset("lastfm-sociallgn", graph, split, info)
