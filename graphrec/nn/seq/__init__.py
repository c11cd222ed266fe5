"""Layers of sequence models (attention, blocks, mHC residuals)."""
from graphrec.nn.seq.attention_block import SelfAttentionBlock
from graphrec.nn.seq.causal_attention import CausalSelfAttention
from graphrec.nn.seq.mhc import MHCResidual, expand_streams, merge_streams, sinkhorn_knopp
from graphrec.nn.seq.time_interval_attention import TimeIntervalAttention

__all__ = ["CausalSelfAttention", "MHCResidual", "SelfAttentionBlock", "TimeIntervalAttention",
           "expand_streams", "merge_streams", "sinkhorn_knopp"]
