"""Importable layers."""
from graphrec.nn.conv import EGESConv, LightGCNConv, PinSAGEConv, SocialConv
from graphrec.nn.interest_routing import InterestRouting
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.nn.item_input import ItemInput
from graphrec.nn.ncf_tower import NCFTower
from graphrec.nn.seq import (
    CausalSelfAttention,
    MHCResidual,
    SelfAttentionBlock,
    TimeIntervalAttention,
)

__all__ = ["CausalSelfAttention", "EGESConv", "InterestRouting", "ItemEmbedding", "ItemInput",
           "LightGCNConv", "MHCResidual", "NCFTower", "PinSAGEConv", "SelfAttentionBlock",
           "SocialConv", "TimeIntervalAttention"]
