"""Training batches. A model names the batches it trains on; the trainer only iterates them."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Self

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions
from graphrec.sampling.negative import NegativeSampler


class TensorBatch:
    """What every batch dataclass of tensor fields shares: ``to(device)`` moves every field,
    ``len`` is the number of rows (of its ``users``)."""

    def to(self, device: torch.device | str) -> Self:
        return type(self)(*(getattr(self, f.name).to(device) for f in fields(self)))

    def __len__(self) -> int:
        return int(self.users.numel())


@dataclass
class PairBatch(TensorBatch):
    """``(user, positive item, negative item)`` triples for pairwise losses such as BPR.

    ``neg_items`` is ``[B]`` for one negative per positive or ``[B, K]`` for ``K``.
    """

    users: Tensor
    pos_items: Tensor
    neg_items: Tensor


class PairBatches:
    """One epoch = every training interaction once, shuffled, each with fresh negatives.

    All negatives of an epoch are drawn in one vectorised call.

    Args:
        train: training interactions.
        batch_size: triples per batch.
        num_negatives: negatives per positive.
        sampler: the negative sampler (uniform by default).
        device: where batches are built (the sampler is moved there).
        seed: seeds the shuffling and sampling stream.
    """

    def __init__(
        self,
        train: Interactions,
        batch_size: int = 2048,
        num_negatives: int = 1,
        sampler: NegativeSampler | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        self.device = torch.device(device)
        self.train = train.to(self.device)
        self.sampler = (sampler or NegativeSampler(self.train)).to(self.device)
        self.batch_size = batch_size
        self.num_negatives = num_negatives
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        return -(-self.train.num_interactions // self.batch_size)

    def __iter__(self) -> Iterator[PairBatch]:
        order = torch.randperm(self.train.num_interactions, generator=self.generator,
                               device=self.device)
        users = self.train.users[order]
        pos_items = self.train.indices[order]
        neg_items = self.sampler.sample(users, self.num_negatives, generator=self.generator)
        for start in range(0, order.numel(), self.batch_size):
            end = start + self.batch_size
            yield PairBatch(users[start:end], pos_items[start:end], neg_items[start:end])


@dataclass
class SharedNegativeBatch(TensorBatch):
    r"""``B`` (user, positive item) pairs and ``N`` negative items shared by all of them, for
    softmax losses that score every row against the same sampled items
    (:func:`graphrec.nn.losses.sampled_softmax_loss`): ``B + N`` item embeddings per step
    instead of ``B (1 + N)``.

    ``pos_log_q`` (``[B]``) and ``neg_log_q`` (``[N]``) are the log expected number of times
    each candidate is drawn into the batch's softmax (logQ correction): a positive as an
    in-batch candidate, :math:`\log(B\,f_j)` with :math:`f_j` the item's share of the
    training interactions; a uniform negative, :math:`\log(N / |\mathcal{I}|)`.
    """

    users: Tensor
    pos_items: Tensor
    neg_items: Tensor
    pos_log_q: Tensor
    neg_log_q: Tensor


class SharedNegativeBatches:
    r"""One epoch = every training interaction once, shuffled; each batch with
    ``num_negatives`` items drawn uniformly from the whole catalogue (with replacement),
    shared by its rows.

    Uniform over the catalogue (not over each user's non-interacted items): a shared
    negative can be a training positive of some rows; the loss removes it where it is the
    row's own positive (an accidental hit), and with a catalogue of thousands of items the
    rest are rare. The batches carry the logQ terms of both kinds of candidate
    (:class:`SharedNegativeBatch`): the shuffle makes every slot of a batch hold item
    :math:`j` with probability exactly :math:`f_j = \deg(j) / |E|`, so in-batch
    candidates are popularity samples whose frequencies are known, not estimated. All
    negatives of an epoch are drawn in one call.

    Args:
        train: training interactions.
        batch_size: pairs per batch.
        num_negatives: shared negatives per batch.
        device: where batches are built.
        seed: seeds the shuffling and sampling stream.
    """

    def __init__(
        self,
        train: Interactions,
        batch_size: int = 2048,
        num_negatives: int = 1024,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        if train.num_items < 1 or train.num_interactions < 1:
            raise ValueError("shared negatives need at least one item and one interaction")
        self.device = torch.device(device)
        self.train = train.to(self.device)
        self.batch_size = batch_size
        self.num_negatives = num_negatives
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        # items never seen in training are never in-batch candidates: -inf is never read
        self.item_log_freq = (self.train.item_degree().double()
                              / self.train.num_interactions).log().float()

    def __len__(self) -> int:
        return -(-self.train.num_interactions // self.batch_size)

    def __iter__(self) -> Iterator[SharedNegativeBatch]:
        order = torch.randperm(self.train.num_interactions, generator=self.generator,
                               device=self.device)
        users = self.train.users[order]
        pos_items = self.train.indices[order]
        negatives = torch.randint(0, self.train.num_items, (len(self), self.num_negatives),
                                  generator=self.generator, device=self.device)
        neg_log_q = torch.full((self.num_negatives,),
                               math.log(self.num_negatives / self.train.num_items),
                               device=self.device)
        for step, start in enumerate(range(0, order.numel(), self.batch_size)):
            end = start + self.batch_size
            batch_items = pos_items[start:end]
            pos_log_q = self.item_log_freq[batch_items] + math.log(batch_items.numel())
            yield SharedNegativeBatch(users[start:end], batch_items, negatives[step],
                                      pos_log_q, neg_log_q)
