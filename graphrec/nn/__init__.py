"""Importable layers."""
from graphrec.nn.conv import EGESConv, LightGCNConv, SocialConv

__all__ = ["EGESConv", "LightGCNConv", "SocialConv"]
