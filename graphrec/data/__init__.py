"""Data sets: loaders for the supported sources and a registry to load them by name.

Every loader returns a :class:`RecDataset` (the full interaction graph, the published split
if the source fixes one, and notes in ``info``). Files are parsed strictly: a malformed line
raises :class:`DataFormatError` naming the file and line; absent files that cannot be
downloaded raise :class:`DataNotFoundError` saying what to put where; files that exist but
cannot be read raise :class:`DataAccessError`. All three are :class:`DataError` s. Every
loader takes ``download`` (``False``: never touch the network; sources without an official
download ignore it), and ``GRAPHREC_OFFLINE=1`` switches downloads off for the process.

>>> from graphrec.data import load_dataset
>>> dataset = load_dataset("lastfm", root="../shared/data")      # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphrec.data.dataset import RecDataset
from graphrec.data.delimited import load_delimited
from graphrec.data.errors import DataAccessError, DataError, DataFormatError, DataNotFoundError
from graphrec.data.io import locate, offline, read_table, resolve_root
from graphrec.data.lastfm import load_lastfm, load_lastfm_sociallgn
from graphrec.data.lightgcn_format import load_lightgcn_lists
from graphrec.data.movielens import load_movielens_100k
from graphrec.data.sequences import load_beauty, load_lastfm_tags, load_sequence_lines


def _lightgcn(root: str | Path | None = None, **kwargs: Any) -> RecDataset:
    if root is None:
        raise ValueError("load_dataset('lightgcn') needs root= (the folder with train.txt and "
                         "test.txt)")
    return load_lightgcn_lists(root, **kwargs)


def _gowalla(root: str | Path | None = None, **kwargs: Any) -> RecDataset:
    """Gowalla in the LightGCN benchmark split: ``gowalla/train.txt`` and ``test.txt`` under
    the data folder (or ``root`` itself holding them)."""
    base = resolve_root(root)
    folder = base / "gowalla" if (base / "gowalla" / "train.txt").is_file() else base
    dataset = load_lightgcn_lists(folder, **kwargs)
    dataset.name = "gowalla"
    return dataset


def _tsv(root: str | Path | None = None, *, path: str | Path | None = None,
         download: bool = True, **kwargs: Any) -> RecDataset:
    del download  # a local file: nothing to download
    path = path if path is not None else root
    if path is None:
        raise ValueError("load_dataset('tsv') needs path= (the interaction file)")
    return load_delimited(path, **kwargs)


def _sequence_file(root: str | Path | None = None, *, path: str | Path | None = None,
                   format: str = "lines", download: bool = True, **kwargs: Any) -> RecDataset:
    del download  # a local file: nothing to download
    path = path if path is not None else root
    if path is None:
        raise ValueError("load_dataset('sequence-file') needs path= (the sequence file)")
    if format == "lines":
        return load_sequence_lines(path, **kwargs)
    if format == "interactions":
        kwargs.setdefault("delimiter", None)
        return load_delimited(path, in_time_order=True, **kwargs)
    raise ValueError(f"format must be 'lines' or 'interactions' (got {format!r})")


#: Registered names → loader(root, **kwargs).
DATASETS: dict[str, Callable[..., RecDataset]] = {
    "lastfm": load_lastfm,
    "lastfm-sociallgn": load_lastfm_sociallgn,
    "lightgcn": _lightgcn,
    "gowalla": _gowalla,
    "movielens-100k": load_movielens_100k,
    "tsv": _tsv,
    "beauty": load_beauty,
    "lastfm-tags": load_lastfm_tags,
    "sequence-file": _sequence_file,
}


def load_dataset(name: str, root: str | Path | None = None, **kwargs: Any) -> RecDataset:
    """Loads a data set by registered name.

    Names: ``lastfm`` (:func:`load_lastfm`), ``lastfm-sociallgn``
    (:func:`load_lastfm_sociallgn`), ``lightgcn`` (:func:`load_lightgcn_lists`; ``root`` is
    the folder with ``train.txt``/``test.txt``), ``gowalla`` (the LightGCN split in
    ``gowalla/`` under the data folder), ``movielens-100k``
    (:func:`load_movielens_100k`), ``tsv`` (:func:`load_delimited`; pass ``path=`` and its
    keyword options), ``beauty`` (:func:`load_beauty`), ``lastfm-tags``
    (:func:`load_lastfm_tags`), ``sequence-file`` (``path=``; ``format="lines"``: one line
    per user, :func:`load_sequence_lines`; ``format="interactions"``: ``user item
    [timestamp]`` lines in time order, whitespace separated, ``has_time=`` as
    :func:`load_delimited`). ``root`` defaults to ``$GRAPHREC_DATA`` or ``~/.graphrec/data``;
    ``kwargs`` go to the loader; every loader accepts ``download=False`` (never download;
    see also ``GRAPHREC_OFFLINE``).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    try:
        loader = DATASETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; valid names: "
                         f"{', '.join(sorted(DATASETS))}") from None
    return loader(root, **kwargs)


__all__ = [
    "DATASETS", "DataAccessError", "DataError", "DataFormatError", "DataNotFoundError",
    "RecDataset", "load_beauty", "load_dataset", "load_delimited", "load_lastfm",
    "load_lastfm_sociallgn", "load_lastfm_tags", "load_lightgcn_lists", "load_movielens_100k",
    "load_sequence_lines", "locate", "offline", "read_table", "resolve_root",
]
