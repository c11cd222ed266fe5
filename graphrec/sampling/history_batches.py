"""Training batches of history-to-next-item retrieval models (MIND, SDM): one sample per
training transition, the history before it and the item after it."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING, Sequences


@dataclass
class HistoryBatch:
    """``B`` (history, next item) samples.

    Attributes:
        users: ``[B]``.
        items: ``[B, T]`` the history, right-aligned (the latest item in the last column),
            left-padded with :data:`PADDING`; leading columns that are padding in every row
            are cut off.
        times: ``[B, T]`` the history's timestamps (0 at padding).
        targets: ``[B]`` the next item.
        negatives: ``[N]`` uniform negatives shared by the batch, or ``None``.
        log_q_targets: ``[B]`` :math:`\\log(B\\,q_i)` of each target as an in-batch
            candidate, :math:`q_i` its share of all training targets (the logQ correction
            of in-batch sampled softmax).
        log_q_negatives: ``[N]`` :math:`\\log(N / |\\mathcal{I}|)`, or ``None``.
    """

    users: Tensor
    items: Tensor
    times: Tensor
    targets: Tensor
    negatives: Tensor | None = None
    log_q_targets: Tensor | None = None
    log_q_negatives: Tensor | None = None

    def to(self, device: torch.device | str) -> HistoryBatch:
        return HistoryBatch(*(None if getattr(self, f.name) is None
                              else getattr(self, f.name).to(device) for f in fields(self)))

    def __len__(self) -> int:
        return int(self.users.numel())


class HistoryBatches:
    r"""One epoch = every training transition once, shuffled.

    Each user's training items in time order :math:`s_1, \dots, s_n` give the samples
    :math:`(s_{\max(1, t - L)}, \dots, s_{t-1}) \to s_t` for :math:`t = 2, \dots, n` (the
    candidate-generation samples of YouTube DNN and MIND: every next item with the
    ``maxlen`` = :math:`L` items before it). Histories are gathered per batch from the flat
    CSR of :class:`~graphrec.graph.sequences.Sequences`, so nothing of size
    ``transitions x maxlen`` is stored.

    Args:
        train: training interactions with timestamps.
        maxlen: the longest history :math:`L`.
        batch_size: samples per batch.
        num_negatives: uniform catalogue negatives shared by each batch (0: in-batch only).
        device: where batches live.
        seed: seeds shuffling and sampling.
    """

    def __init__(self, train: Interactions, maxlen: int = 50, batch_size: int = 256,
                 num_negatives: int = 0, device: torch.device | str = "cpu", seed: int = 0
                 ) -> None:
        for name, value, low in (("maxlen", maxlen, 1), ("batch_size", batch_size, 1),
                                 ("num_negatives", num_negatives, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low} (got {value!r})")
        self.device = torch.device(device)
        self.sequences = Sequences.from_interactions(train.to(self.device))
        lengths = self.sequences.lengths()
        user_of = torch.repeat_interleave(torch.arange(lengths.numel(), device=self.device),
                                          lengths)
        position = torch.arange(user_of.numel(), device=self.device)
        first = self.sequences.indptr[:-1][user_of]
        is_transition = position > first  # every item but each user's first is a target
        self.positions = position[is_transition]
        self.user_of = user_of
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.num_negatives = num_negatives
        self.num_items = train.num_items
        targets = self.sequences.items[self.positions]
        count = torch.bincount(targets, minlength=self.num_items).double()
        self.target_log_frequency = (count.clamp(min=1) / max(targets.numel(), 1)).log().float()
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        return -(-int(self.positions.numel()) // self.batch_size)

    def gather(self, positions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(users, items, times, targets)`` of the samples ending at flat ``positions``."""
        users = self.user_of[positions]
        start = self.sequences.indptr[users]
        pos = positions.unsqueeze(1) - self.maxlen + torch.arange(self.maxlen,
                                                                  device=self.device)
        valid = pos >= start.unsqueeze(1)
        width = int(valid.sum(1).max()) if positions.numel() else 1
        pos, valid = pos[:, self.maxlen - width:], valid[:, self.maxlen - width:]
        safe = pos.clamp(min=0)
        items = torch.where(valid, self.sequences.items[safe], PADDING)
        times = torch.where(valid, self.sequences.times[safe], 0)
        return users, items, times, self.sequences.items[positions]

    def __iter__(self) -> Iterator[HistoryBatch]:
        order = torch.randperm(self.positions.numel(), generator=self.generator,
                               device=self.device)
        for rows in order.split(self.batch_size):
            users, items, times, targets = self.gather(self.positions[rows])
            batch = HistoryBatch(users, items, times, targets,
                                 log_q_targets=self.target_log_frequency[targets]
                                 + math.log(rows.numel()))
            if self.num_negatives:
                batch.negatives = torch.randint(self.num_items, (self.num_negatives,),
                                                generator=self.generator, device=self.device)
                batch.log_q_negatives = torch.full(
                    (self.num_negatives,), math.log(self.num_negatives / self.num_items),
                    device=self.device)
            yield batch
