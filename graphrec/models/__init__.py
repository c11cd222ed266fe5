"""Models, one per file, and the registry the CLI and examples build them from."""
from __future__ import annotations

from typing import Any

from torch_geometric.data import HeteroData

from graphrec.models.base import EmbeddingRecommender, Recommender
from graphrec.models.lightgcn import LightGCN
from graphrec.models.lite_eiisrs import LiteEIISRS
from graphrec.models.mf import MF
from graphrec.models.pinsage import PinSAGE
from graphrec.models.pixie import Pixie
from graphrec.models.popularity import Popularity
from graphrec.models.sasrec import SASRec
from graphrec.models.sociallgn import SocialLGN
from graphrec.models.tisasrec import TiSASRec

MODELS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "mf": MF,
    "lightgcn": LightGCN,
    "sociallgn": SocialLGN,
    "lite_eiisrs": LiteEIISRS,
    "sasrec": SASRec,
    "tisasrec": TiSASRec,
    "pinsage": PinSAGE,
    "pixie": Pixie,
}


def build_model(name: str, train_graph: HeteroData, **kwargs: Any) -> Recommender:
    """Builds the model ``name`` for a training graph (``kwargs`` are its hyperparameters)."""
    try:
        model_class = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None
    return model_class.from_graph(train_graph, **kwargs)


__all__ = ["MODELS", "MF", "EmbeddingRecommender", "LightGCN", "LiteEIISRS", "PinSAGE", "Pixie",
           "Popularity", "Recommender", "SASRec", "SocialLGN", "TiSASRec", "build_model"]
