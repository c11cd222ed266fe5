"""The one training loop and the losses."""
from graphrec.nn.losses import bpr_loss, l2_penalty
from graphrec.train.trainer import (
           TrainConfig,
           Trainer,
           TrainResult,
           resolve_device,
           seed_everything,
)

__all__ = ["TrainConfig", "TrainResult", "Trainer", "bpr_loss", "l2_penalty", "resolve_device",
           "seed_everything"]
