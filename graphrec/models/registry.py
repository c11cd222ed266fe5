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

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from torch_geometric.data import HeteroData

if TYPE_CHECKING:
    from graphrec.models.base import Recommender

#: Registered name -> model class.
MODELS: dict[str, type[Recommender]] = {}

_Model = TypeVar("_Model", bound=type)

# A hyperparameter is a constructor keyword with a default that a config file can hold;
# arguments whose type is an object (a graph, a corpus, a shared table) come from
# ``from_graph`` or from code, not from configuration.
_CONFIG_TYPES = (bool, int, float, str, tuple, list, type(None))
_OBJECT_ANNOTATIONS = ("Tensor", "Embedding", "HeteroData", "Corpus", "Sequence[SideField]",
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


def hyperparameters(name_or_class: str | type) -> dict[str, Any]:
    """The declared hyperparameters of a model and their defaults (its constructor's
    configurable keyword arguments, in declaration order)."""
    cls = model_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    out: dict[str, Any] = {}
    for klass in reversed([k for k in cls.__mro__ if "__init__" in vars(k)]):
        for param in inspect.signature(vars(klass)["__init__"]).parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                continue
            if param.default is inspect.Parameter.empty:
                out.pop(param.name, None)
                continue
            annotation = str(param.annotation)
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


def check_hyperparameters(name: str, kwargs: dict[str, Any]) -> None:
    """``ValueError`` naming any keyword that is not a hyperparameter of model ``name``."""
    declared = hyperparameters(name)
    accepted = set(declared) | set(getattr(model_class(name), "extra_arguments", ()))
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(f"model {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
                         f"it takes {', '.join(declared) or 'none'}")


def build_model(name: str, train_graph: HeteroData, **kwargs: Any) -> Recommender:
    """Builds the model ``name`` for a training graph (``kwargs`` are its hyperparameters;
    objects such as a shared ``item_embedding`` may be passed too)."""
    return model_class(name).from_graph(train_graph, **kwargs)
