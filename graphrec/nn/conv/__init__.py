"""Graph convolution layers, one per file."""
from graphrec.nn.conv.eges_conv import EGESConv
from graphrec.nn.conv.lightgcn_conv import LightGCNConv
from graphrec.nn.conv.pinsage_conv import PinSAGEConv
from graphrec.nn.conv.social_conv import SocialConv

__all__ = ["EGESConv", "LightGCNConv", "PinSAGEConv", "SocialConv"]
