r"""Skip-gram training pairs with negative sampling (word2vec's SGNS), vectorised.

`Mikolov et al., "Distributed Representations of Words and Phrases and their
Compositionality" (NeurIPS 2013) <https://arxiv.org/abs/1310.4546>`_; over item sequences
this is item2vec (Barkan & Koenigstein, 2016), over random walks DeepWalk/node2vec.

A :class:`SkipGramCorpus` is a set of token sequences (item sessions, user histories or
walks) stored flat. Each epoch :class:`SkipGramBatches`:

1. *subsamples* frequent tokens: an occurrence of token :math:`w` with corpus frequency
   :math:`f_w` is kept with probability
   :math:`\min\big(1, \sqrt{t / f_w} + t / f_w\big)` (word2vec's C code), and discarded
   occurrences are removed before windowing (so windows widen over them, as in word2vec);
2. in ``"set"`` mode shuffles each sequence (item2vec's set view: every pair of a set is
   equally likely to fall in a window);
3. draws a *dynamic window* :math:`b \sim U\{1..\text{window}\}` per centre and emits
   (centre, context) for every context within :math:`b` positions in the same sequence;
   with ``global_context`` it also pairs every item with the last item of its sequence
   (Airbnb's booked-listing global context, Grbovic & Cheng, KDD 2018);
4. shuffles the pairs and cuts batches; each batch draws ``num_negatives`` negatives per
   pair from the unigram distribution raised to ``power`` (0.75), by binary search in
   its cumulative sum. A negative equal to the context is kept (word2vec re-draws it;
   at thousands of items the difference is negligible).

Pairs are produced by one gather per window offset over the flat arrays, for a chunk of
whole sequences at a time (bounding memory); there is no Python loop over sequences or
tokens. Randomness comes from a generator seeded with ``seed`` and the epoch number.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.graph.sessions import Sessions


@dataclass
class SkipGramCorpus:
    """Token sequences, flat.

    Attributes:
        tokens: ``[N]`` int64 token (item / node) ids.
        sequence: ``[N]`` int64 non-decreasing sequence id of each token.
        num_tokens: size of the vocabulary (item / node count).
    """

    tokens: Tensor
    sequence: Tensor
    num_tokens: int

    def __post_init__(self) -> None:
        if self.tokens.shape != self.sequence.shape or self.tokens.dim() != 1:
            raise ValueError("tokens and sequence must be 1-D of the same length")
        if self.tokens.numel():
            if int(self.tokens.min()) < 0 or int(self.tokens.max()) >= self.num_tokens:
                raise ValueError(f"token ids must lie in [0, {self.num_tokens})")
            if bool((self.sequence[1:] < self.sequence[:-1]).any()):
                raise ValueError("sequence ids must be non-decreasing")

    @classmethod
    def from_walks(cls, walks: Tensor, num_tokens: int) -> SkipGramCorpus:
        """From ``[W, L + 1]`` walks (:func:`~graphrec.sampling.random_walks`); the ``-1``
        after a stopped walker is dropped."""
        rows = torch.arange(walks.size(0), device=walks.device).unsqueeze(1).expand_as(walks)
        valid = walks >= 0
        return cls(walks[valid], rows[valid], num_tokens)

    @classmethod
    def from_sessions(cls, sessions: Sessions) -> SkipGramCorpus:
        return cls(sessions.items, sessions.session_of, sessions.num_items)

    @property
    def num_occurrences(self) -> int:
        return int(self.tokens.numel())

    def counts(self) -> Tensor:
        return torch.bincount(self.tokens, minlength=self.num_tokens)

    def to(self, device: torch.device | str) -> SkipGramCorpus:
        return SkipGramCorpus(self.tokens.to(device), self.sequence.to(device), self.num_tokens)


@dataclass
class SkipGramBatch:
    """``center [B]``, ``context [B]``, ``negatives [B, K]`` token ids."""

    center: Tensor
    context: Tensor
    negatives: Tensor

    def __len__(self) -> int:
        return int(self.center.numel())


class SkipGramBatches:
    r"""One epoch of shuffled skip-gram batches per iteration (see the module docstring).

    Args:
        corpus: the sequences.
        batch_size: pairs per batch.
        window: maximum distance between centre and context.
        num_negatives: :math:`K` negatives per pair.
        subsample: word2vec's threshold :math:`t` (``0`` disables subsampling).
        power: exponent of the unigram noise distribution.
        mode: ``"sequence"`` (windows in the given order) or ``"set"`` (each sequence is
            shuffled every epoch before windowing).
        global_context: also pair every token with its sequence's last token.
        device: where batches are produced.
        seed: random seed (epoch ``e`` uses ``seed + e``).
        chunk_tokens: tokens per pair-generation chunk (whole sequences; bounds memory).
    """

    def __init__(
        self,
        corpus: SkipGramCorpus,
        batch_size: int = 4096,
        window: int = 5,
        num_negatives: int = 5,
        subsample: float = 1e-3,
        power: float = 0.75,
        mode: str = "sequence",
        global_context: bool = False,
        device: torch.device | str = "cpu",
        seed: int = 0,
        chunk_tokens: int = 1 << 20,
    ) -> None:
        if window < 1 or batch_size < 1 or num_negatives < 0:
            raise ValueError("window and batch_size must be positive, num_negatives >= 0")
        if mode not in ("sequence", "set"):
            raise ValueError(f"mode must be 'sequence' or 'set' (got {mode!r})")
        self.device = torch.device(device)
        self.corpus = corpus.to(self.device)
        self.batch_size, self.window, self.num_negatives = batch_size, window, num_negatives
        self.mode, self.global_context = mode, global_context
        self.seed, self.epoch, self.chunk_tokens = seed, 0, chunk_tokens
        counts = self.corpus.counts().double()
        noise = counts.pow(power)
        if float(noise.sum()) <= 0:
            raise ValueError("the corpus is empty")
        self.noise_cdf = torch.cumsum(noise / noise.sum(), 0)
        frequency = counts / counts.sum()
        self.keep_prob = torch.ones_like(frequency)
        if subsample > 0:
            ratio = subsample / frequency.clamp(min=1e-300)
            self.keep_prob = torch.clamp(ratio.sqrt() + ratio, max=1.0)

    def _chunk_bounds(self, sequence: Tensor) -> list[tuple[int, int]]:
        """Token ranges of ~``chunk_tokens`` that never split a sequence."""
        n = sequence.numel()
        bounds, start = [], 0
        while start < n:
            end = min(start + self.chunk_tokens, n)
            if end < n:  # move the end back to the start of the sequence it is in
                end = int(torch.searchsorted(sequence, sequence[end]))
                if end <= start:  # one sequence longer than a chunk: take it whole
                    end = int(torch.searchsorted(sequence, sequence[start], right=True))
            bounds.append((start, end))
            start = end
        return bounds

    def pairs(self, tokens: Tensor, sequence: Tensor,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(centre, context) pairs of already subsampled flat sequences, unshuffled."""
        n = tokens.numel()
        if self.mode == "set" and n:
            shuffle = sequence.double() + torch.rand(n, generator=generator, device=self.device,
                                                     dtype=torch.float64) * 0.5
            order = torch.sort(shuffle).indices
            tokens = tokens[order]
        reach = torch.randint(1, self.window + 1, (n,), generator=generator, device=self.device)
        centers, contexts = [], []
        for offset in range(1, min(self.window, max(n - 1, 0)) + 1):
            same = sequence[:-offset] == sequence[offset:]
            left, right = tokens[:-offset], tokens[offset:]
            forward = same & (reach[:-offset] >= offset)   # centre left, context right
            backward = same & (reach[offset:] >= offset)   # centre right, context left
            centers += [left[forward], right[backward]]
            contexts += [right[forward], left[backward]]
        if self.global_context and n:
            last = torch.ones(n, dtype=torch.bool, device=self.device)
            last[:-1] = sequence[1:] != sequence[:-1]
            group = torch.cumsum(last.long(), 0) - last.long()  # dense sequence number
            last_token = tokens[last][group]
            not_last = ~last
            centers.append(tokens[not_last])
            contexts.append(last_token[not_last])
        if not centers:
            empty = tokens.new_zeros(0)
            return empty, empty
        return torch.cat(centers), torch.cat(contexts)

    def __iter__(self) -> Iterator[SkipGramBatch]:
        self.epoch += 1
        generator = torch.Generator(device=self.device).manual_seed(self.seed + self.epoch)
        tokens, sequence = self.corpus.tokens, self.corpus.sequence
        keep = (torch.rand(tokens.numel(), generator=generator, device=self.device,
                           dtype=torch.float64) < self.keep_prob[tokens])
        tokens, sequence = tokens[keep], sequence[keep]
        bounds = self._chunk_bounds(sequence)
        chunk_order = torch.randperm(len(bounds), generator=generator, device=self.device)
        for c in chunk_order.tolist():
            start, end = bounds[c]
            center, context = self.pairs(tokens[start:end], sequence[start:end], generator)
            perm = torch.randperm(center.numel(), generator=generator, device=self.device)
            for b in range(0, center.numel(), self.batch_size):
                index = perm[b:b + self.batch_size]
                yield SkipGramBatch(center[index], context[index], self.negatives(
                    index.numel(), generator))

    def negatives(self, num_pairs: int, generator: torch.Generator) -> Tensor:
        """``[num_pairs, K]`` draws from the unigram^power noise distribution."""
        draw = torch.rand(num_pairs, self.num_negatives, generator=generator,
                          device=self.device, dtype=torch.float64)
        return torch.searchsorted(self.noise_cdf, draw).clamp_(max=self.noise_cdf.numel() - 1)

    def __len__(self) -> int:
        """Approximate number of batches of an epoch (before subsampling)."""
        expected = self.corpus.num_occurrences * (self.window + 1)
        return max(1, expected // self.batch_size)
