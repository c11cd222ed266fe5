r"""Streaming item-frequency estimation for the logQ correction of sampled softmax.

Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations",
RecSys 2019 (https://doi.org/10.1145/3298689.3346996), Algorithm 2: an item's sampling
probability is the inverse of the average number of steps between two of its consecutive
occurrences, tracked with hash arrays instead of a dictionary so that memory stays fixed on an
unbounded stream of ids.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

#: The Mersenne prime :math:`2^{31} - 1` of the universal hash family.
_PRIME = 2**31 - 1


class FrequencyEstimator(nn.Module):
    r"""Yi et al.'s hash-array frequency estimator, vectorised over a batch of ids per step.

    ``H`` hash functions :math:`h_k(x) = ((a_k x + b_k) \bmod P) \bmod m` (universal family,
    :math:`P = 2^{31} - 1`) map an id to one bucket of each of ``H`` rows of three arrays of
    ``m`` buckets: :math:`A` (the time the bucket was last hit), :math:`B` (the moving average
    of the time elapsed between hits) and :math:`C` (the moving average of the number of
    occurrences per hit). Time counts events: a step of ``n`` ids advances it from :math:`t`
    to :math:`t' = t + n`. For every bucket hit ``c`` times in the step,

    .. math::
        B \leftarrow (1 - \alpha) B + \alpha (t' - A), \qquad
        C \leftarrow (1 - \alpha) C + \alpha c, \qquad A \leftarrow t',

    and an id's estimated gap (events between two occurrences) is the largest
    :math:`B / C` over its ``H`` buckets (collisions only shorten a bucket's gap, so the
    largest is the least polluted, as in the paper); its per-event sampling probability is
    :math:`\hat p = C / B` of that bucket.

    With one event per step (:math:`c = 1`) this is the paper's algorithm: :math:`B` is its
    array ``B``, and :math:`C = 1 - (1 - \alpha)^{n}` after ``n`` hits corrects its start
    at zero (without it the gap of an item seen fewer than ~:math:`1/\alpha` times is
    underestimated). With batches, averaging elapsed time and occurrences separately keeps
    frequent items (several occurrences per step) right: :math:`E[t' - A] / E[c] = 1/p` for
    Poisson arrivals, where the average of :math:`(t' - A)/c` would overestimate gaps by up to
    ~20 % for items seen about once per step. Before its first hit an id's gap is the time
    elapsed (at least 1): it has not occurred in that many events.

    All state lives in buffers, so the estimator moves with ``.to(device)`` (CPU or CUDA)
    and resumes an unbounded stream from :meth:`state_dict`.

    Args:
        num_buckets: :math:`m`, buckets per hash function.
        num_hashes: :math:`H`.
        alpha: learning rate :math:`\alpha \in (0, 1]` of the moving averages.
        seed: seeds the hash parameters :math:`a_k, b_k`.

    Shapes:
        - :meth:`update`, :meth:`forward`, :meth:`probability`: ids of any integer shape
          ``[*]`` (any int64 value; negative ids are fine) → probabilities ``[*]``.
    """

    last_seen: Tensor
    elapsed: Tensor
    occurrences: Tensor
    time: Tensor
    hash_a: Tensor
    hash_b: Tensor

    def __init__(self, num_buckets: int = 2**20, num_hashes: int = 2, alpha: float = 0.01,
                 seed: int = 0) -> None:
        super().__init__()
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1 (got {num_buckets})")
        if num_hashes < 1:
            raise ValueError(f"num_hashes must be >= 1 (got {num_hashes})")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must lie in (0, 1] (got {alpha})")
        self.num_buckets = num_buckets
        self.num_hashes = num_hashes
        self.alpha = alpha
        self.seed = seed
        shape = (num_hashes, num_buckets)
        self.register_buffer("last_seen", torch.zeros(shape, dtype=torch.long))
        self.register_buffer("elapsed", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("occurrences", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("time", torch.zeros((), dtype=torch.long))
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("hash_a", torch.randint(1, _PRIME, (num_hashes,),
                                                     generator=generator))
        self.register_buffer("hash_b", torch.randint(0, _PRIME, (num_hashes,),
                                                     generator=generator))

    def reset_parameters(self) -> None:
        """Forgets the stream (the hash functions stay)."""
        for buffer in (self.last_seen, self.elapsed, self.occurrences, self.time):
            buffer.zero_()

    def _flat_buckets(self, ids: Tensor) -> Tensor:
        """``[H, n]`` indices into the flattened ``[H * m]`` arrays."""
        if ids.dtype in (torch.bool,) or ids.is_floating_point() or ids.is_complex():
            raise TypeError(f"ids must be an integer tensor (got {ids.dtype})")
        x = ids.reshape(-1).to(device=self.hash_a.device, dtype=torch.long).remainder(_PRIME)
        # a < 2^31 and x < 2^31: the product fits int64
        hashed = (self.hash_a.unsqueeze(1) * x.unsqueeze(0) + self.hash_b.unsqueeze(1))
        buckets = hashed.remainder(_PRIME).remainder(self.num_buckets)
        offsets = torch.arange(self.num_hashes, device=x.device).unsqueeze(1) * self.num_buckets
        return buckets + offsets

    @torch.no_grad()
    def update(self, ids: Tensor) -> None:
        """Records one step: the ids of its events (e.g. a training batch's positives)."""
        flat = self._flat_buckets(ids)
        if flat.numel() == 0:
            return
        now = self.time + ids.numel()
        hit, count = torch.unique(flat.reshape(-1), return_counts=True)
        last_seen = self.last_seen.view(-1)
        elapsed = self.elapsed.view(-1)
        occurrences = self.occurrences.view(-1)
        keep = 1.0 - self.alpha
        elapsed[hit] = keep * elapsed[hit] + self.alpha * (now - last_seen[hit]).double()
        occurrences[hit] = keep * occurrences[hit] + self.alpha * count.double()
        last_seen[hit] = now
        self.time.copy_(now)

    @torch.no_grad()
    def gap(self, ids: Tensor) -> Tensor:
        """Estimated number of events between two occurrences of each id (``float64``)."""
        flat = self._flat_buckets(ids)
        elapsed = self.elapsed.view(-1)[flat]
        occurrences = self.occurrences.view(-1)[flat]
        unseen = self.time.clamp(min=1).double()
        per_hash = torch.where(occurrences > 0, elapsed / occurrences.clamp(min=1e-300),
                               unseen)
        return per_hash.amax(0).reshape(ids.shape)

    def probability(self, ids: Tensor) -> Tensor:
        """Estimated per-event sampling probability :math:`\\hat p` of each id (``float64``)."""
        return self.gap(ids).reciprocal()

    def forward(self, ids: Tensor) -> Tensor:
        """Updates with the step's ``ids``, then returns their probabilities (Algorithm 2's
        order: the batch's own occurrences count)."""
        self.update(ids)
        return self.probability(ids)

    def extra_repr(self) -> str:
        return (f"num_buckets={self.num_buckets}, num_hashes={self.num_hashes}, "
                f"alpha={self.alpha}")


__all__ = ["FrequencyEstimator"]
