"""Masked top-k, re-exported: it lives in :mod:`graphrec.graph.ranking` (models use it for
``recommend``, and a model must not import from :mod:`graphrec.eval`, the layer above it)."""
from graphrec.graph.ranking import mask_interactions, topk_items

__all__ = ["mask_interactions", "topk_items"]
