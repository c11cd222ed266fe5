"""Negative samplers: items a user has not interacted with in training.

Both samplers are vectorised over the whole batch and never return a training positive.
"""
from __future__ import annotations

import torch
from torch import Tensor

from graphrec.graph.interactions import Interactions


class NegativeSampler:
    r"""Samples, for each user, items outside the user's training interactions.

    Args:
        train: the training interactions (positives to avoid).
        distribution: ``"uniform"`` over the user's non-interacted items, or
            ``"popularity"``: proportional to ``(item degree + 1) ** power`` restricted to
            the user's non-interacted items (word2vec's unigram^0.75 when ``power=0.75``).
        power: exponent of the popularity distribution.
        max_rounds: popularity sampling draws from the full distribution and re-draws the
            positives it hits; users still unresolved after ``max_rounds`` rounds (their
            positives hold most of the mass) get an exact uniform draw instead.

    Uniform sampling is exact and rejection-free: with the user's positives sorted,
    :math:`p_0 < p_1 < \dots`, the :math:`r`-th non-positive item is
    :math:`r + |\{j : p_j - j \le r\}|`, found for the whole batch by one binary search
    over a key that is sorted by (user, :math:`p_j - j`).
    """

    def __init__(
        self,
        train: Interactions,
        distribution: str = "uniform",
        power: float = 0.75,
        max_rounds: int = 20,
    ) -> None:
        if distribution not in ("uniform", "popularity"):
            raise ValueError(
                f"distribution must be 'uniform' or 'popularity' (got {distribution!r})")
        self.train = train
        self.distribution = distribution
        self.power = power
        self.max_rounds = max_rounds
        num_items = train.num_items
        degree = train.user_degree()
        self.num_candidates = num_items - degree
        position = torch.arange(train.num_interactions, device=train.device)
        shifted = train.indices - (position - train.indptr[train.users])
        self._shifted_keys = train.users * (num_items + 1) + shifted
        self._weights = None
        if distribution == "popularity":
            self._weights = (train.item_degree().double() + 1.0) ** power

    def to(self, device: torch.device | str) -> NegativeSampler:
        if torch.device(device) == self.train.device:
            return self
        return NegativeSampler(self.train.to(device), self.distribution, self.power,
                               self.max_rounds)

    def _check_users(self, users: Tensor) -> None:
        if users.numel() and bool((self.num_candidates[users] <= 0).any()):
            user = int(users[self.num_candidates[users] <= 0][0])
            raise ValueError(f"user {user} interacted with every item: no negative exists")

    def _uniform(self, users: Tensor, generator: torch.Generator | None) -> Tensor:
        device = self.train.device
        rand = torch.rand(users.shape, generator=generator, device=device)
        rank = (rand * self.num_candidates[users]).long()
        rank = torch.minimum(rank, self.num_candidates[users] - 1)  # guard rand == 1 - eps
        return self._item_of_rank(users, rank)

    def _item_of_rank(self, users: Tensor, rank: Tensor) -> Tensor:
        """The ``rank``-th (from 0) item outside each user's positives (aligned tensors;
        ``0 <= rank < num_candidates[users]``)."""
        query = users * (self.train.num_items + 1) + rank
        below = torch.searchsorted(self._shifted_keys, query, right=True) - self.train.indptr[users]
        return rank + below

    def sample_distinct(self, users: Tensor, num_negatives: int,
                        generator: torch.Generator | None = None) -> Tensor:
        r"""``num_negatives`` *distinct* items per user, a uniformly random subset of the
        items outside the user's positives (the NCF paper's 100 sampled negatives), as a
        ``[B, num_negatives]`` tensor on the sampler's device.

        A user with fewer non-positive items than ``num_negatives`` gets all of them
        (ranked among them the protocol is full ranking for that user), and the rest of
        its row is ``num_items``, an index past the catalogue, so that using it without
        ``row < num_items`` fails loudly instead of scoring a wrong item. Always uniform
        over the non-positives, whatever ``distribution`` the sampler was built with.

        Floyd's algorithm (Bentley & Floyd, CACM 1987) on the ranks of the non-positive
        items, vectorised over users: with :math:`n` candidates, step :math:`i = 0..k-1`
        draws :math:`t` uniformly from :math:`\{0, \dots, n-k+i\}` and keeps :math:`t`, or
        :math:`n-k+i` when :math:`t` was kept before; every :math:`k`-subset is equally
        likely and there is no rejection loop. It costs :math:`O(B k^2)` comparisons (one
        vectorised step per draw, none per user); the order inside a row is not random.
        """
        num_negatives = int(num_negatives)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be positive (got {num_negatives})")
        device = self.train.device
        users = users.to(device).view(-1)
        count = self.num_candidates[users]
        # double precision keeps floor(u * (j + 1)) uniform for catalogues beyond 2^24
        rand = torch.rand((users.numel(), num_negatives), generator=generator, device=device,
                          dtype=torch.float64)
        ranks = torch.empty((users.numel(), num_negatives), dtype=torch.long, device=device)
        for step in range(num_negatives):  # one step per draw, vectorised over users
            top = (count - num_negatives + step).clamp(min=0)  # inclusive upper bound
            pick = torch.minimum((rand[:, step] * (top + 1)).long(), top)
            if step:
                seen = (ranks[:, :step] == pick.unsqueeze(1)).any(dim=1)
                pick = torch.where(seen, top, pick)
            ranks[:, step] = pick
        short = count < num_negatives
        position = torch.arange(num_negatives, device=device).expand_as(ranks)
        ranks = torch.where(short.unsqueeze(1), position, ranks)
        valid = position < count.unsqueeze(1)
        safe = torch.where(valid, ranks, torch.zeros_like(ranks))
        items = self._item_of_rank(users.unsqueeze(1).expand_as(ranks), safe)
        return torch.where(valid, items, torch.full_like(items, self.train.num_items))

    def sample(
        self, users: Tensor, num_negatives: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        """Negatives for ``users`` (shape ``[B]`` when ``num_negatives == 1``, else
        ``[B, num_negatives]``), on the sampler's device. ``generator`` must live there too."""
        users = users.to(self.train.device)
        self._check_users(users)
        flat_users = users.repeat_interleave(num_negatives) if num_negatives > 1 else users
        if self.distribution == "uniform":
            items = self._uniform(flat_users, generator)
        else:
            items = torch.multinomial(self._weights, flat_users.numel(), replacement=True,
                                      generator=generator)
            for _ in range(self.max_rounds):
                bad = self.train.contains(flat_users, items).nonzero().view(-1)
                if bad.numel() == 0:
                    break
                items[bad] = torch.multinomial(self._weights, bad.numel(), replacement=True,
                                               generator=generator)
            bad = self.train.contains(flat_users, items).nonzero().view(-1)
            if bad.numel():
                items[bad] = self._uniform(flat_users[bad], generator)
        return items.view(-1, num_negatives) if num_negatives > 1 else items
