"""Graph convolution layers, one per file."""
from graphrec.nn.conv.lightgcn_conv import LightGCNConv

__all__ = ["LightGCNConv"]
