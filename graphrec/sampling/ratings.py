"""Rating batches: explicit-feedback triples for rating-prediction models (FunkSVD)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions
from graphrec.sampling.batches import TensorBatch


@dataclass
class RatingBatch(TensorBatch):
    """``(user, item, rating)`` triples, each ``[B]``."""

    users: Tensor
    items: Tensor
    ratings: Tensor


class RatingBatches:
    """One epoch = every training rating once, in a fresh seeded shuffle.

    The ratings are the interactions' ``edge_weight`` (MovieLens: 1-5 stars).

    Args:
        train: training interactions with ``edge_weight``.
        batch_size: ratings per batch.
        device: where batches are built.
        seed: seeds the shuffles (epoch ``e`` of two instances with one seed is identical).

    Raises:
        ValueError: ``train`` carries no ratings, or one is not finite.
    """

    def __init__(self, train: Interactions, batch_size: int = 1024,
                 device: torch.device | str = "cpu", seed: int = 0) -> None:
        if train.edge_weight is None:
            raise ValueError("rating batches need explicit ratings: train.edge_weight is None "
                             "(load a data set with ratings, e.g. movielens-100k)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive (got {batch_size})")
        self.device = torch.device(device)
        train = train.to(self.device)
        if not bool(torch.isfinite(train.edge_weight).all()):
            raise ValueError("ratings (train.edge_weight) must be finite")
        self.users, self.items = train.users, train.indices
        self.ratings = train.edge_weight.float()
        self.batch_size = int(batch_size)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        return -(-self.users.numel() // self.batch_size)

    def __iter__(self) -> Iterator[RatingBatch]:
        order = torch.randperm(self.users.numel(), generator=self.generator, device=self.device)
        users, items, ratings = self.users[order], self.items[order], self.ratings[order]
        for start in range(0, order.numel(), self.batch_size):
            end = start + self.batch_size
            yield RatingBatch(users[start:end], items[start:end], ratings[start:end])
