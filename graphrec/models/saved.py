"""Trained models as artifacts: :meth:`Recommender.save` writes one, :func:`load` reads it.

A saved model is a folder::

    config.json        format, version, registry name, build arguments (hyperparameters)
    weights.pt         the state_dict (fitted state included: see below)
    graph.pt           every tensor attribute of every node and edge store of the training graph
    graph.json         its other attributes: id maps (raw ids), item names, counts, strings
    known.pt           extra known interactions (``exclude=``, e.g. validation)

Loading rebuilds the training graph, calls ``build_model(name, graph, **build_arguments)``
and loads the weights (``torch.load(weights_only=True)``: no pickled code runs). Nothing is
silently dropped: a graph attribute that is neither a tensor nor JSON data (id maps,
string lists, numbers), or a build argument that is an object (e.g. a shared
``item_embedding``), stops the save with an error naming it.

Fitted state that is not a parameter travels in the state_dict: buffers (Popularity's
scores, PinSAGE's warm mask, Lite-EIISRS's factor tokens) and ``get_extra_state`` for state
built in ``fit`` (Pixie's walk graph, PinSAGE's neighbourhood table and hard-negative
pools), so a loaded model recommends exactly as the saved one on any device. State a
constructor derives from the graph (LightGCN's edges, Lite-EIISRS's features and blend
pairs, PinSAGE's interactions and times) is rebuilt by ``from_graph`` deterministically.

The folder is replaced atomically: files are written into a temporary folder beside it,
then swapped in by renames; a failed save leaves the previous one intact. Models built
without ``from_graph`` (``SkipGram``, ``EGES``, ``JointRecommender``) cannot be saved.

:class:`SavedModel` adds raw ids to the index-based model: ``recommend(raw_user_ids, k)``
and ``recommend_for_items(raw_item_ids, k)`` (new users, through the model's
:meth:`~graphrec.models.base.Recommender.score_histories`) return
:class:`Recommendation` lists with raw item ids, names and scores.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec._version import __version__
from graphrec.files import atomic_torch_save, atomic_write_text, json_safe, write_json
from graphrec.graph.build import ITEM, USER, IdMap
from graphrec.graph.interactions import Interactions
from graphrec.graph.ranking import mask_interactions, topk_items
from graphrec.models.base import Recommender
from graphrec.models.registry import MODELS, build_model

FORMAT = "graphrec-saved-model"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.pt"
GRAPH_TENSORS = "graph.pt"
GRAPH_ATTRIBUTES = "graph.json"
KNOWN = "known.pt"

# JSON scalars a raw id, a name or an attribute value may be (they round-trip unchanged)
_SCALARS = (str, int, float, bool, type(None))


class SavedModelError(ValueError):
    """A folder that is not a readable saved model, or a model that cannot be saved."""


# ------------------------------------------------------------------------------ encoding
def _encode_argument(name: str, value: Any) -> Any:
    """A build argument as JSON (tuples tagged so they come back as tuples; a typed group
    of hyperparameters, a dataclass, as the table of its fields, which ``build_model``
    turns back into the group)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _encode_argument(f"{name}.{field.name}", getattr(value, field.name))
                for field in dataclasses.fields(value)}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise SavedModelError(f"cannot save build argument {name!r} = {value} (JSON holds "
                              "finite numbers only)")
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_argument(name, v) for v in value]}
    if isinstance(value, list):
        return [_encode_argument(name, v) for v in value]
    raise SavedModelError(
        f"cannot save build argument {name!r}: it is a {type(value).__name__} object, not a "
        "configuration value (bool, int, float, str, tuple, list, None); build the model "
        "without it (e.g. no shared item_embedding) to save it")


def _decode_argument(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        return tuple(_decode_argument(v) for v in value["__tuple__"])
    if isinstance(value, dict):  # a typed group's fields
        return {key: _decode_argument(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_decode_argument(v) for v in value]
    return value


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _encode_attribute(where: str, key: str, value: Any) -> dict[str, Any]:
    """A non-tensor graph attribute as tagged JSON; ``SavedModelError`` naming it otherwise."""
    if isinstance(value, IdMap):
        ids = [_scalar(raw) for raw in value.raw_ids]
        bad = next((raw for raw in ids if not isinstance(raw, (str, int, float))), None)
        if bad is not None:
            raise SavedModelError(f"cannot save graph[{where}].{key}: raw id {bad!r} is a "
                                  f"{type(bad).__name__} (saved ids are str, int or float)")
        return {"kind": "id_map", "ids": ids}
    value = _scalar(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise SavedModelError(f"cannot save graph[{where}].{key} = {value} (JSON holds finite "
                              "numbers only; store it as a tensor)")
    if isinstance(value, _SCALARS):
        return {"kind": "value", "value": value}
    if isinstance(value, (list, tuple)):
        values = [_scalar(v) for v in value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise SavedModelError(f"cannot save graph[{where}].{key}: it holds a non-finite "
                                  "number (JSON holds finite numbers only; store it as a "
                                  "tensor)")
        if all(isinstance(v, _SCALARS) for v in values):
            return {"kind": "tuple" if isinstance(value, tuple) else "list", "values": values}
    raise SavedModelError(f"cannot save graph[{where}].{key}: a {type(value).__name__} is "
                          "neither a tensor nor JSON data (id map, list of str/numbers, "
                          "number, string)")


def _decode_attribute(value: dict[str, Any]) -> Any:
    kind = value["kind"]
    if kind == "id_map":
        return IdMap(value["ids"])
    if kind == "value":
        return value["value"]
    if kind in ("list", "tuple"):
        return list(value["values"]) if kind == "list" else tuple(value["values"])
    raise SavedModelError(f"unknown graph attribute kind {kind!r} in {GRAPH_ATTRIBUTES}")


def _store_label(key: str | tuple[str, str, str]) -> str:
    return repr(key)


def _encode_graph(graph: HeteroData) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, attributes)``: every attribute of every store, tensors apart."""
    tensors: dict[str, Any] = {"global": {}, "nodes": [], "edges": []}
    attributes: dict[str, Any] = {"global": {}, "nodes": [], "edges": []}

    def split(store: Any, where: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
        own_tensors, own_attributes = {}, {}
        for key, value in store.items():
            if isinstance(value, Tensor):
                own_tensors[key] = value.detach().cpu()
            else:
                own_attributes[key] = _encode_attribute(where, key, value)
        return own_tensors, own_attributes

    tensors["global"], attributes["global"] = split(graph._global_store, "global")
    for node_type in graph.node_types:
        own_tensors, own_attributes = split(graph[node_type], _store_label(node_type))
        tensors["nodes"].append(own_tensors)
        attributes["nodes"].append({"type": node_type, "attributes": own_attributes})
    for edge_type in graph.edge_types:
        own_tensors, own_attributes = split(graph[edge_type], _store_label(edge_type))
        tensors["edges"].append(own_tensors)
        attributes["edges"].append({"type": list(edge_type), "attributes": own_attributes})
    return tensors, attributes


def _decode_graph(tensors: dict[str, Any], attributes: dict[str, Any]) -> HeteroData:
    graph = HeteroData()
    for key, value in tensors["global"].items():
        graph[key] = value
    for key, value in attributes["global"].items():
        graph[key] = _decode_attribute(value)
    if len(tensors["nodes"]) != len(attributes["nodes"]) or len(tensors["edges"]) != len(
            attributes["edges"]):
        raise SavedModelError(f"{GRAPH_TENSORS} and {GRAPH_ATTRIBUTES} describe different "
                              "stores (files from different saves?)")
    for own_tensors, entry in zip(tensors["nodes"], attributes["nodes"], strict=True):
        store = graph[entry["type"]]
        for key, value in entry["attributes"].items():
            setattr(store, key, _decode_attribute(value))
        for key, value in own_tensors.items():
            setattr(store, key, value)
    for own_tensors, entry in zip(tensors["edges"], attributes["edges"], strict=True):
        store = graph[tuple(entry["type"])]
        for key, value in entry["attributes"].items():
            setattr(store, key, _decode_attribute(value))
        for key, value in own_tensors.items():
            setattr(store, key, value)
    return graph


def _interaction_parts(exclude: Any, num_users: int, num_items: int) -> list[Interactions]:
    if exclude is None:
        return []
    if isinstance(exclude, (Interactions, HeteroData)):
        exclude = [exclude]
    parts = []
    for k, part in enumerate(exclude):
        if isinstance(part, HeteroData):
            part = Interactions.from_graph(part)
        if not isinstance(part, Interactions):
            raise SavedModelError(f"exclude[{k}] must be Interactions or a HeteroData split "
                                  f"part (got {type(part).__name__})")
        if (part.num_users, part.num_items) != (num_users, num_items):
            raise SavedModelError(
                f"exclude[{k}] has {part.num_users} users and {part.num_items} items; the "
                f"model has {num_users} and {num_items}")
        parts.append(part)
    return parts


def _encode_interactions(part: Interactions) -> dict[str, Tensor]:
    out = {"edge_index": part.edge_index.cpu()}
    for name in ("edge_weight", "edge_time", "edge_order"):
        value = getattr(part, name)
        if value is not None:
            out[name] = value.cpu()
    return out


# ---------------------------------------------------------------------------------- save
def save_model(model: Recommender, directory: str | Path,
               exclude: Interactions | HeteroData | Sequence[Interactions | HeteroData]
               | None = None) -> Path:
    """Writes ``model`` to ``directory`` (see the module docstring); returns the path.

    Args:
        model: a model built by ``from_graph`` / ``build_model`` of a registered model.
        directory: the folder to write; an existing saved model there is replaced
            atomically, any other non-empty folder is refused.
        exclude: extra known interactions (e.g. the validation part) that
            :meth:`SavedModel.recommend` skips besides the training graph's, and that
            sequence models read as history.
    """
    name = type(model).name
    if not name or MODELS.get(name) is not type(model):
        raise SavedModelError(f"{type(model).__name__} is not a registered model (registered: "
                              f"{sorted(MODELS)}): load() could not rebuild it")
    graph = getattr(model, "build_graph", None)
    arguments = getattr(model, "build_arguments", None)
    if graph is None or arguments is None:
        raise SavedModelError(f"this {type(model).__name__} was not built by from_graph / "
                              "build_model, so its training graph is unknown: build it with "
                              f"build_model({name!r}, train_graph, ...) to save it")
    config = {
        "format": FORMAT,
        "version": VERSION,
        "graphrec_version": __version__,
        "model": name,
        "build_arguments": {key: _encode_argument(key, value)
                            for key, value in arguments.items()},
        "num_users": int(model.num_users),
        "num_items": int(model.num_items),
    }
    tensors, attributes = _encode_graph(graph)
    known = [_encode_interactions(part) for part in
             _interaction_parts(exclude, model.num_users, model.num_items)]
    config["num_extra_known"] = len(known)
    state = model.state_dict()

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SavedModelError(f"{directory} exists and is not a folder")
    if (directory.is_dir() and not (directory / CONFIG).is_file()
            and any(directory.iterdir())):
        raise SavedModelError(f"{directory} is a non-empty folder without {CONFIG}: not "
                              "replacing what is not a saved model")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".saving",
                                    dir=directory.parent))
    try:
        atomic_torch_save(state, staging / WEIGHTS)
        atomic_torch_save(tensors, staging / GRAPH_TENSORS)
        # compact: id maps and names can be long
        atomic_write_text(staging / GRAPH_ATTRIBUTES,
                          json.dumps(json_safe(attributes), allow_nan=False))
        atomic_torch_save(known, staging / KNOWN)
        write_json(staging / CONFIG, config)  # last: a folder with a config is complete
        _default_permissions(staging)
        _swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _default_permissions(folder: Path) -> None:
    """Temporary files and folders are private (0600 / 0700); a saved model gets the
    permissions of any folder and file the user creates (0777 / 0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _swap_in(staging: Path, directory: Path) -> None:
    """Renames ``staging`` to ``directory``; a previous ``directory`` is moved aside first
    and deleted only after the new one is in place (moved back if the rename fails)."""
    if not directory.exists():
        os.replace(staging, directory)
    else:
        previous = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".previous",
                                         dir=directory.parent))
        previous.rmdir()  # a unique free name for the old folder
        os.replace(directory, previous)
        try:
            os.replace(staging, directory)
        except BaseException:
            os.replace(previous, directory)
            raise
        shutil.rmtree(previous, ignore_errors=True)
    if hasattr(os, "O_DIRECTORY"):  # make the renames durable
        handle = os.open(directory.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


# ---------------------------------------------------------------------------------- load
@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its raw id, score, and name (``None`` where the data set has
    no item names)."""

    item: Hashable
    score: float
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"item", "score"}``, plus ``"name"`` when there is one."""
        out = {"item": self.item, "score": self.score}
        if self.name is not None:
            out["name"] = self.name
        return out


def _read_config(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG
    if not directory.is_dir():
        raise SavedModelError(f"{directory} is not a folder (expected a saved graphrec model)")
    if not path.is_file():
        raise SavedModelError(f"{directory} is not a saved graphrec model: {CONFIG} missing")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SavedModelError(f"{path}: not valid JSON ({error})") from None
    found = config.get("format") if isinstance(config, dict) else None
    if found != FORMAT:
        raise SavedModelError(f"{path}: not a graphrec saved-model config (format {found!r}, "
                              f"expected {FORMAT!r})")
    if config.get("version") != VERSION:
        raise SavedModelError(f"{path}: format version {config.get('version')!r} is not "
                              f"supported (this graphrec reads version {VERSION})")
    return config


def _load_tensors(path: Path, device: torch.device | str) -> Any:
    """``torch.load(weights_only=True)``: tensors and plain containers only; a file holding
    other objects is refused (no pickled code runs)."""
    if not path.is_file():
        raise SavedModelError(f"{path.parent}: incomplete saved model ({path.name} missing)")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SavedModelError(f"{path}: refused to load: it holds objects other than "
                              f"tensors and plain containers ({first})") from None


def load(directory: str | Path, device: torch.device | str = "cpu") -> SavedModel:
    """Reads a model written by :meth:`Recommender.save` onto ``device``."""
    directory = Path(directory)
    config = _read_config(directory)
    device = torch.device(device)
    tensors = _load_tensors(directory / GRAPH_TENSORS, "cpu")
    known_parts = _load_tensors(directory / KNOWN, "cpu")
    state = _load_tensors(directory / WEIGHTS, device)
    try:
        attributes = json.loads((directory / GRAPH_ATTRIBUTES).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SavedModelError(f"{directory}: incomplete saved model ({GRAPH_ATTRIBUTES} "
                              "missing)") from None
    graph = _decode_graph(tensors, attributes)
    arguments = {key: _decode_argument(value)
                 for key, value in config["build_arguments"].items()}
    model = build_model(config["model"], graph, **arguments)
    # on the device before the weights: extra state (walk graphs, neighbourhood tables) is
    # rebuilt where the model lives
    model.to(device)
    model.load_state_dict(state)
    model.eval()
    train = Interactions.from_graph(graph)
    extra = [Interactions(part["edge_index"], model.num_users, model.num_items,
                          part.get("edge_weight"), part.get("edge_time"), part.get("edge_order"))
             for part in known_parts]
    return SavedModel(model, graph, [train, *extra], config)


class SavedModel:
    """A loaded model with its raw ids (what :func:`graphrec.load` returns).

    Attributes:
        model: the :class:`~graphrec.models.base.Recommender` (index-based, eval mode).
        graph: its training graph.
        user_ids, item_ids: :class:`~graphrec.graph.build.IdMap` raw id <-> index.
        item_names: item names by index, or ``None`` when the data set has none.
        known: the known interactions: the training graph's, then the saved ``exclude``
            parts; recommendations skip them, sequence models read them as history.
        config: the saved ``config.json``.
    """

    def __init__(self, model: Recommender, graph: HeteroData, known: list[Interactions],
                 config: dict[str, Any]) -> None:
        self.model = model
        self.graph = graph
        self.known = [part.to(model.device) for part in known]
        self.config = config
        self.user_ids = self._id_map(USER, model.num_users)
        self.item_ids = self._id_map(ITEM, model.num_items)
        names = graph[ITEM].get("name")
        self.item_names = None if names is None else list(names)

    def _id_map(self, node_type: str, size: int) -> IdMap:
        id_map = self.graph[node_type].get("id_map")
        # graphs built without raw ids (e.g. by hand) use the indices as ids
        return IdMap(range(size)) if id_map is None else id_map

    @property
    def name(self) -> str:
        """The model's registry name."""
        return self.config["model"]

    def user_index(self, raw_ids: Sequence[Hashable]) -> Tensor:
        """Indices of raw user ids (``KeyError`` naming an unknown one)."""
        return self._index(self.user_ids, raw_ids, "user")

    def item_index(self, raw_ids: Sequence[Hashable]) -> Tensor:
        """Indices of raw item ids (``KeyError`` naming an unknown one)."""
        return self._index(self.item_ids, raw_ids, "item")

    def _index(self, id_map: IdMap, raw_ids: Sequence[Hashable], kind: str) -> Tensor:
        for raw in raw_ids:
            if raw not in id_map:
                hint = (" (new users: recommend_for_items with their items)"
                        if kind == "user" else "")
                raise KeyError(f"unknown {kind} id {raw!r}: the saved model knows "
                               f"{len(id_map)} {kind}s{hint}")
        return torch.as_tensor(id_map.index(raw_ids), dtype=torch.long,
                               device=self.model.device)

    def _results(self, items: Tensor, scores: Tensor) -> list[list[Recommendation]]:
        # masked (known) items score -inf: they only reach the top-k when fewer than k
        # others remain, and are dropped then
        out = []
        for row_items, row_scores in zip(items.tolist(), scores.tolist(), strict=True):
            row = []
            for item, score in zip(row_items, row_scores, strict=True):
                if score == float("-inf"):
                    continue
                name = None if self.item_names is None else self.item_names[item]
                row.append(Recommendation(self.item_ids.raw([item])[0], float(score), name))
            out.append(row)
        return out

    @torch.no_grad()
    def recommend(self, users: Sequence[Hashable] | Hashable, k: int = 10,
                  exclude_known: bool = True, batch_size: int = 1024
                  ) -> list[list[Recommendation]]:
        """Top-``k`` items for users seen in training, best first, one list per user.

        Known interactions (:attr:`known`) are skipped unless ``exclude_known=False``; a
        list is shorter than ``k`` when fewer items remain. One raw id (not in a list)
        is one user. Unknown ids raise ``KeyError`` naming the id.
        """
        if isinstance(users, (str, int)) or not isinstance(users, Sequence):
            users = [users]
        _check_k(k)
        index = self.user_index(users)
        self.model.eval()
        # what Recommender.recommend does, with the shared work (propagation) done once
        score = self.model.scorer_from(self.known)
        out: list[list[Recommendation]] = []
        for start in range(0, index.numel(), batch_size):
            batch = index[start:start + batch_size]
            scores = score(batch).float().clone()
            if exclude_known:
                mask_interactions(scores, batch, self.known)
            items, scores = topk_items(scores, k)
            out += self._results(items, scores)
        return out

    @torch.no_grad()
    def recommend_for_items(self, items: Sequence[Hashable], k: int = 10,
                            times: Sequence[int] | None = None,
                            exclude_history: bool = True) -> list[Recommendation]:
        """Top-``k`` items for a new user known only by ``items`` (raw ids, oldest first),
        through the model's :meth:`~graphrec.models.base.Recommender.score_histories`
        fold-in. ``times`` (optional, one integer per item) are the interactions' times
        (sequence models with time, e.g. TiSASRec); without them the items are equally
        spaced. The history items are skipped unless ``exclude_history=False``.
        """
        if isinstance(items, (str, int)) or not isinstance(items, Sequence):
            raise TypeError(f"items must be a list of raw item ids (got {items!r})")
        if not items:
            raise ValueError("a new user's history needs at least one item")
        _check_k(k)
        index = self.item_index(items)
        positions = torch.arange(index.numel(), device=index.device)
        if times is None:
            edge_time = positions
        else:
            if len(times) != len(items):
                raise ValueError(f"times has {len(times)} values for {len(items)} items")
            edge_time = torch.as_tensor(list(times), dtype=torch.long, device=index.device)
        history = Interactions(torch.stack([torch.zeros_like(index), index]), 1,
                               self.model.num_items, edge_time=edge_time, edge_order=positions)
        self.model.eval()
        scores = self.model.score_histories(history).float().clone()
        if exclude_history:
            mask_interactions(scores, torch.zeros(1, dtype=torch.long, device=index.device),
                              history)
        return self._results(*topk_items(scores, k))[0]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, users={len(self.user_ids)}, "
                f"items={len(self.item_ids)}, known={sum(p.num_interactions for p in self.known)}"
                " interactions)")


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer (got {k!r})")


__all__ = ["Recommendation", "SavedModel", "SavedModelError", "load", "save_model"]
