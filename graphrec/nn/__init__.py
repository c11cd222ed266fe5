"""Importable layers."""
from graphrec.nn.conv import LightGCNConv, PinSAGEConv, SocialConv

__all__ = ["LightGCNConv", "PinSAGEConv", "SocialConv"]
