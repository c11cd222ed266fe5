"""Multi-process data-parallel training (``torchrun``): process group set-up and the DDP
wrapper the one :class:`~graphrec.train.Trainer` uses when a process group exists."""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


def init_distributed(backend: str | None = None) -> torch.device:
    """Joins the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT`` in the environment) and returns this process's
    device: ``cuda:LOCAL_RANK`` with NCCL when CUDA is available, else CPU with gloo.

    Without those variables (a plain ``python`` run) it does nothing and returns ``"auto"``'s
    device, so the same script runs single-process.
    """
    use_cuda = torch.cuda.is_available()
    if "WORLD_SIZE" not in os.environ:
        return torch.device("cuda" if use_cuda else "cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if use_cuda else "gloo"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def close_distributed() -> None:
    """Leaves the process group (after a barrier, so no rank tears down while another still
    communicates); a no-op outside one. Call it at the end of a ``torchrun`` script."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class LossModule(nn.Module):
    """``forward(batch) = model.loss(batch)``: lets
    :class:`~torch.nn.parallel.DistributedDataParallel` wrap any
    :class:`~graphrec.models.Recommender` (DDP synchronises the gradients of what
    ``forward`` computes, and a model's training entry point is ``loss``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> Tensor:
        return self.model.loss(batch)


def data_parallel_loss(model: nn.Module, device: torch.device) -> nn.Module:
    """The DDP-wrapped loss of ``model`` (parameters broadcast from rank 0 at construction,
    gradients averaged over ranks in ``backward``)."""
    return nn.parallel.DistributedDataParallel(
        LossModule(model), device_ids=[device.index] if device.type == "cuda" else None)
