"""Importable layers."""
from graphrec.nn.conv import LightGCNConv

__all__ = ["LightGCNConv"]
