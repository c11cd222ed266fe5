"""Importable layers."""
from graphrec.nn.conv import EGESConv, LightGCNConv, SocialConv
from graphrec.nn.item_embedding import ItemEmbedding
from graphrec.nn.seq import (
    CausalSelfAttention,
    MHCResidual,
    SelfAttentionBlock,
    TimeIntervalAttention,
)

__all__ = ["CausalSelfAttention", "EGESConv", "ItemEmbedding", "LightGCNConv", "MHCResidual",
           "SelfAttentionBlock", "SocialConv", "TimeIntervalAttention"]
