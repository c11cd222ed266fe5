"""Importable layers."""
from graphrec.nn.conv import LightGCNConv, SocialConv

__all__ = ["LightGCNConv", "SocialConv"]
