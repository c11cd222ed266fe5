"""Serving a saved model from the command line: ``graphrec recommend`` and ``graphrec export``.

``graphrec recommend --model-dir D --user RAW_ID [--user ...] [-k 10]`` prints one JSON line
per user: ``{"user": raw id, "items": [{"item": raw id, "score": float, "name": str}, ...]}``
(``name`` where the data set has item names; known interactions skipped unless
``--include-known``). ``--items RAW,RAW,...`` recommends for a new user with that history
(oldest first) and prints ``{"history": [...], "items": [...]}``.

``graphrec export --model-dir D --output PATH [--format npz|parquet] [--index KIND]`` writes
the user and item embeddings whose inner products are the model's scores, with their raw
ids: ``npz`` arrays ``user_ids``, ``user_embeddings``, ``item_ids``, ``item_embeddings``
(and ``item_names`` where known); ``parquet`` (needs pyarrow) a folder ``PATH`` with
``users.parquet`` and ``items.parquet`` (columns ``id``, ``embedding``, and ``name`` for
items where known). ``--index faiss-flat|faiss-ivf|faiss-hnsw`` (needs faiss:
``pip install graphrec[faiss]``) also writes an inner-product index of the item embeddings,
``PATH`` with suffix ``.faiss`` (``PATH/items.faiss`` for parquet); its ids are row numbers
of ``item_ids``.

Mistakes (an unknown id, a folder that is no saved model, a missing optional package) print
one line to stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphrec.files import atomic_write
from graphrec.graph.build import IdMap
from graphrec.models.saved import SavedModel, load
from graphrec.ops.index import FAISS_KINDS, ItemIndex, faiss_index, require_faiss

# faiss_index is re-exported: the index is built in graphrec.ops.index, one place
__all__ = ["COMMANDS", "INDEXES", "add_commands", "embeddings", "faiss_index", "id_array",
           "parse_id", "run"]

COMMANDS = ("recommend", "export")
INDEXES = FAISS_KINDS


def add_commands(subparsers: Any) -> None:
    """Registers ``recommend`` and ``export`` on the CLI's subparsers."""
    recommend = subparsers.add_parser(
        "recommend", help="top-k items of a saved model for users (raw ids) or a new history")
    recommend.add_argument("--model-dir", required=True, help="folder written by model.save")
    recommend.add_argument("--user", action="append", default=[], metavar="RAW_ID",
                           help="a user seen in training (repeat for more)")
    recommend.add_argument("--items", default=None, metavar="RAW,RAW,...",
                           help="a new user's history: raw item ids, comma-separated, oldest "
                                "first")
    recommend.add_argument("-k", type=int, default=10, help="items per user (default 10)")
    recommend.add_argument("--include-known", action="store_true",
                           help="do not skip the users' known (training) items")
    recommend.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    export = subparsers.add_parser(
        "export", help="write a saved model's user and item embeddings with their raw ids")
    export.add_argument("--model-dir", required=True, help="folder written by model.save")
    export.add_argument("--output", required=True,
                        help="npz file, or folder for --format parquet")
    export.add_argument("--format", choices=("npz", "parquet"), default="npz")
    export.add_argument("--index", choices=INDEXES, default=None,
                        help="also write a faiss inner-product index of the item embeddings")
    export.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")


def run(args: argparse.Namespace) -> int:
    """Runs ``args.command`` (one of :data:`COMMANDS`); 2 with a one-line error on bad
    input."""
    try:
        if args.command == "recommend":
            return _recommend(args)
        if args.command == "export":
            return _export(args)
        raise ValueError(f"unknown command {args.command!r}")
    except (KeyError, ValueError, TypeError, ImportError, NotImplementedError,
            OSError) as error:
        # KeyError's str() is the repr of its message; print the message itself
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"graphrec {args.command}: error: {message}", file=sys.stderr)
        return 2


def parse_id(text: str, id_map: IdMap) -> Hashable:
    """The raw id a command-line word names: the string itself when the map has it, else
    the integer it spells (ids read from files may be numbers); else the string (the lookup
    then fails naming it)."""
    if text in id_map:
        return text
    try:
        number = int(text)
    except ValueError:
        return text
    return number if number in id_map else text


def _recommend(args: argparse.Namespace) -> int:
    if not args.user and args.items is None:
        raise ValueError("name users with --user RAW_ID or a new user's history with --items")
    saved = load(args.model_dir, device=args.device)
    if args.user:
        users = [parse_id(text, saved.user_ids) for text in args.user]
        lists = saved.recommend(users, k=args.k, exclude_known=not args.include_known)
        for user, found in zip(users, lists, strict=True):
            print(json.dumps({"user": user, "items": [r.to_dict() for r in found]}))
    if args.items is not None:
        words = [word.strip() for word in args.items.split(",") if word.strip()]
        if not words:
            raise ValueError("--items needs at least one raw item id")
        history = [parse_id(word, saved.item_ids) for word in words]
        found = saved.recommend_for_items(history, k=args.k,
                                          exclude_history=not args.include_known)
        print(json.dumps({"history": history, "items": [r.to_dict() for r in found]}))
    return 0


# -------------------------------------------------------------------------------- export
def embeddings(saved: SavedModel) -> tuple[np.ndarray, np.ndarray]:
    """``(user_embeddings, item_embeddings)`` as float32 arrays, from the model's
    :meth:`~graphrec.models.base.Recommender.embeddings` in eval mode."""
    saved.model.eval()
    with torch.no_grad():
        users, items = saved.model.embeddings()
    return (users.detach().float().cpu().numpy(), items.detach().float().cpu().numpy())


def id_array(id_map: IdMap, kind: str) -> np.ndarray:
    """Raw ids as an int64 or a unicode array (never an object array: npz files stay
    loadable without pickle)."""
    ids = id_map.raw_ids
    if all(isinstance(raw, (int, np.integer)) and not isinstance(raw, bool) for raw in ids):
        return np.asarray(ids, dtype=np.int64)
    if all(isinstance(raw, str) for raw in ids):
        return np.asarray(ids, dtype=np.str_)
    kinds = sorted({type(raw).__name__ for raw in ids})
    raise ValueError(f"{kind} ids mix types ({', '.join(kinds)}); export writes int or str ids")


def _export(args: argparse.Namespace) -> int:
    if args.index:
        require_faiss(f"--index {args.index}")  # fail before any work
    saved = load(args.model_dir, device=args.device)
    users, items = embeddings(saved)
    user_ids, item_ids = id_array(saved.user_ids, "user"), id_array(saved.item_ids, "item")
    names = saved.item_names
    output = Path(args.output)
    if args.format == "npz":
        arrays = {"user_ids": user_ids, "user_embeddings": users, "item_ids": item_ids,
                  "item_embeddings": items}
        if names is not None:
            arrays["item_names"] = np.asarray(names, dtype=np.str_)
        atomic_write(output, lambda file: np.savez(file, **arrays))
        written = [output]
        index_path = output.with_suffix(".faiss")
    else:
        written = _write_parquet(output, user_ids, users, item_ids, items, names)
        index_path = output / "items.faiss"
    if args.index:
        if index_path in written:
            raise ValueError(f"--output {output} would be overwritten by the index; use "
                             "another suffix than .faiss")
        data = ItemIndex(items, args.index).serialize()
        atomic_write(index_path, lambda file: file.write(data.tobytes()))
        written.append(index_path)
    print(json.dumps({"model": saved.name, "users": int(users.shape[0]),
                      "items": int(items.shape[0]), "embedding_dim": int(items.shape[1]),
                      "files": [str(path) for path in written]}))
    return 0


def _write_parquet(folder: Path, user_ids: np.ndarray, users: np.ndarray,
                   item_ids: np.ndarray, items: np.ndarray,
                   names: list[str] | None) -> list[Path]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("--format parquet needs pyarrow: pip install pyarrow "
                          "(or use --format npz)") from None
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--format parquet writes a folder; {folder} is a file")

    def table(ids: np.ndarray, vectors: np.ndarray, item_names: list[str] | None):
        width = vectors.shape[1]
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), width)
        columns = {"id": pa.array(ids.tolist()), "embedding": column}
        if item_names is not None:
            columns["name"] = pa.array(item_names, type=pa.string())
        return pa.table(columns)

    written = []
    for name, ids, vectors, item_names in (("users", user_ids, users, None),
                                           ("items", item_ids, items, names)):
        path = folder / f"{name}.parquet"
        data = table(ids, vectors, item_names)
        atomic_write(path, lambda file, data=data: pq.write_table(data, file))
        written.append(path)
    return written
