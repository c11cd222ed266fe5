"""Models, one per file, and the registry the CLI and examples build them from.

Every module of this package is imported here, so a model that registers itself in its own
file (:func:`~graphrec.models.registry.register`) is found by name without touching any
other file.
"""
from __future__ import annotations

import importlib
import pkgutil

from graphrec.models.base import EmbeddingRecommender, Recommender
from graphrec.models.lightgcn import LightGCN
from graphrec.models.lite_eiisrs import LiteEIISRS
from graphrec.models.mf import MF
from graphrec.models.pinsage import PinSAGE
from graphrec.models.pixie import Pixie
from graphrec.models.popularity import Popularity
from graphrec.models.registry import (
    MODELS,
    build_model,
    hyperparameters,
    model_class,
    register,
    train_defaults,
)
from graphrec.models.sasrec import SASRec
from graphrec.models.sociallgn import SocialLGN
from graphrec.models.tisasrec import TiSASRec

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "MF", "EmbeddingRecommender", "LightGCN", "LiteEIISRS", "PinSAGE", "Pixie",
           "Popularity", "Recommender", "SASRec", "SocialLGN", "TiSASRec", "build_model",
           "hyperparameters", "model_class", "register", "train_defaults"]
