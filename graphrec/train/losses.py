"""The training losses, re-exported: they live in :mod:`graphrec.nn.losses` (models use them,
and a model must not import from :mod:`graphrec.train`, the layer above it)."""
from graphrec.nn.losses import (
    bpr_loss,
    full_softmax_loss,
    l2_penalty,
    log_loss,
    sampled_softmax_loss,
    sgns_loss,
)

__all__ = ["bpr_loss", "full_softmax_loss", "l2_penalty", "log_loss", "sampled_softmax_loss",
           "sgns_loss"]
