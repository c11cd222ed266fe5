"""The model registry: every model is found and configured by name from here.

A model registers itself in its own file with :func:`register`; its hyperparameters and their
defaults are its constructor's keyword arguments (declared once, there), and the training
settings it was measured with are its ``train_defaults`` class attribute. Data-set-tuned
settings are named presets (:mod:`graphrec.presets`). So adding a model touches its own file
and nothing else: :mod:`graphrec.models` imports every module of the package.

>>> from graphrec.models.registry import MODELS, hyperparameters
>>> hyperparameters("lightgcn")["num_layers"]
3
"""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn
from torch_geometric.data import HeteroData

from graphrec.models.base import Recommender

#: Registered name -> model class.
MODELS: dict[str, type[Recommender]] = {}

_Model = TypeVar("_Model", bound=type)

# A hyperparameter is a constructor keyword with a default that a config file can hold;
# arguments whose type is an object (a graph, a corpus, a shared table) come from
# ``from_graph`` or from code, not from configuration.
_CONFIG_TYPES = (bool, int, float, str, tuple, list, type(None))
_OBJECT_ANNOTATIONS = ("Tensor", "Embedding", "HeteroData", "Corpus", "Sequence[SideField]",
                       "FeatureMatrix",
                       "Recommender", "Interactions")


def register(name: str) -> Callable[[_Model], _Model]:
    """Class decorator: registers a :class:`~graphrec.models.base.Recommender` under ``name``."""

    def decorate(model_class: _Model) -> _Model:
        if name in MODELS and MODELS[name] is not model_class:
            raise ValueError(f"model name {name!r} is already registered by "
                             f"{MODELS[name].__qualname__}")
        if "from_graph" not in vars(model_class) and not any(
                "from_graph" in vars(base) for base in model_class.__mro__[1:-1]
                if base.__name__ not in ("Recommender", "EmbeddingRecommender")):
            raise TypeError(f"{model_class.__qualname__} must define from_graph to be registered")
        model_class.name = name
        MODELS[name] = model_class
        return model_class

    return decorate


def model_class(name: str) -> type[Recommender]:
    """The class registered as ``name`` (``ValueError`` listing the names otherwise)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None


def _constructor_signatures(cls: type) -> list[inspect.Signature]:
    """The most derived constructor's signature, and its bases' while it passes
    ``**kwargs`` on (base first)."""
    signatures: list[inspect.Signature] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass in (Recommender, nn.Module, object):
            continue
        signature = inspect.signature(vars(klass)["__init__"])
        signatures.insert(0, signature)
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    return signatures


def hyperparameters(name_or_class: str | type) -> dict[str, Any]:
    """The declared hyperparameters of a model and their defaults (its constructor's
    configurable keyword arguments, in declaration order)."""
    cls = model_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    out: dict[str, Any] = {}
    signatures = _constructor_signatures(cls)
    # from_graph may declare how the model's inputs are made from the graph (a corpus, ...)
    build = getattr(cls.from_graph, "__wrapped__", cls.from_graph)
    signatures.append(inspect.signature(build))
    for signature in signatures:
        for param in signature.parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                continue
            if param.default is inspect.Parameter.empty:
                out.pop(param.name, None)
                continue
            annotation = str(param.annotation)
            if _is_group(param.default):
                out[param.name] = dataclasses.asdict(param.default)
                continue
            if (not isinstance(param.default, _CONFIG_TYPES)
                    or any(kind in annotation for kind in _OBJECT_ANNOTATIONS)):
                out.pop(param.name, None)
                continue
            out[param.name] = param.default
    return out


def train_defaults(name_or_class: str | type) -> dict[str, Any]:
    """The training settings (``TrainConfig`` fields) a model declares (a copy)."""
    cls = model_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    return dict(getattr(cls, "train_defaults", {}))


# Ranges of hyperparameter names shared across models (one name, one meaning): checked
# before any data is read, so a bad value fails in a second, not after loading Gowalla.
_AT_LEAST_ONE = ("embedding_dim", "num_blocks", "heads", "maxlen", "num_walks", "walk_length",
                 "num_negatives", "token_dim", "num_heads", "feature_hidden", "factors",
                 "iterations", "neighbors", "window", "num_folds", "hard_walks",
                 "hard_walk_length", "hard_pool", "time_span", "mhc_expansion",
                 "sinkhorn_iterations")
_AT_LEAST_ZERO = ("num_layers", "num_social_layers", "reg_weight", "max_tags", "num_easy",
                  "max_hard", "als_reg", "init_std", "margin", "shrinkage")
_PROBABILITIES = ("dropout", "social_dropout", "head_dropout", "cold_dropout", "restart_prob",
                  "id_dropout")


def _is_group(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _groups(name: str) -> dict[str, type]:
    """Hyperparameters that are typed groups (dataclasses): name -> dataclass type."""
    cls = model_class(name)
    out: dict[str, type] = {}
    for signature in _constructor_signatures(cls):
        for param in signature.parameters.values():
            if _is_group(param.default):
                out[param.name] = type(param.default)
    return out


def check_hyperparameters(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Checks configured hyperparameters of model ``name`` without building it.

    Returns them with the declared types (an int where a float is declared becomes a
    float, a list where a tuple is declared a tuple); a typed group (a dataclass default)
    is given as a table of some of its fields and comes back complete, as a dict. Raises
    ``ValueError`` naming the first unknown name, a value of the wrong type, or a value out
    of range.
    """
    declared = hyperparameters(name)
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in declared:
            raise ValueError(f"model {name!r} has no hyperparameter {key!r}; it takes "
                             f"{', '.join(declared) or 'none'}")
        default = declared[key]
        if isinstance(default, dict) and key in _groups(name):
            if _is_group(value):
                value = dataclasses.asdict(value)
            if not isinstance(value, dict):
                raise ValueError(f"hyperparameter {key!r} of model {name!r} is a group; give "
                                 f"a table of its fields {', '.join(default)}")
            group = dict(default)
            for field, field_value in value.items():
                if field not in default:
                    raise ValueError(f"hyperparameter group {key!r} of model {name!r} has no "
                                     f"field {field!r}; it has {', '.join(default)}")
                group[field] = _check_value(name, field, field_value, default[field])
            # the group checks its own fields (ranges, choices, pairs) when it is made:
            # a bad value fails here, before any data is read
            dataclasses.replace(_groups(name)[key](), **group)
            out[key] = group
            continue
        out[key] = _check_value(name, key, value, default)
    return out


def _check_value(name: str, key: str, value: Any, default: Any) -> Any:
    value = _coerce(name, key, value, default)
    if value is None or isinstance(value, (str, tuple, bool)):
        return value
    if key in _AT_LEAST_ONE and value < 1:
        raise ValueError(f"{key} must be at least 1 (got {value})")
    if key in _AT_LEAST_ZERO and value < 0:
        raise ValueError(f"{key} must be non-negative (got {value})")
    if key in _PROBABILITIES and not 0 <= value < 1:
        raise ValueError(f"{key} must lie in [0, 1) (got {value})")
    return value


def _coerce(model: str, key: str, value: Any, default: Any) -> Any:
    wrong = ValueError(f"hyperparameter {key!r} of model {model!r} takes a "
                       f"{type(default).__name__} like {default!r} (got {value!r})")
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise wrong
        return value
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(default):
            raise wrong
        return tuple(value)
    return value


def build_model(name: str, train_graph: HeteroData, **kwargs: Any) -> Recommender:
    """Builds the model ``name`` for a training graph (``kwargs`` are its hyperparameters;
    objects such as a shared ``item_embedding`` may be passed too). A typed group may be
    given as a dict of some of its fields (as configuration files give it)."""
    groups = _groups(name)
    for key, value in kwargs.items():
        if key in groups and isinstance(value, dict):
            kwargs[key] = dataclasses.replace(groups[key](), **value)
    return model_class(name).from_graph(train_graph, **kwargs)
