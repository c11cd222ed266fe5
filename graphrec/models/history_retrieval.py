"""What the history-to-next-item retrieval models (MIND, SDM) share: batches, the sampled
softmax, and scoring as the maximum over a user's vectors."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING, Sequences
from graphrec.models.base import Recommender, check_sizes
from graphrec.nn.item_embedding import ItemEmbedding, check_shared_table
from graphrec.nn.losses import full_softmax_loss, sampled_softmax_loss
from graphrec.sampling.history_batches import HistoryBatch, HistoryBatches


class HistoryRetrieval(Recommender):
    r"""Base of retrieval models that turn a user's history into one or more vectors
    :math:`\mathbf{v}_{u,1..K}` in the item space; the score of item :math:`j` is
    :math:`\max_k \mathbf{v}_{u,k}^\top \mathbf{e}_j` (a single vector: its inner product).

    Training (the one :class:`~graphrec.train.Trainer`): :class:`~graphrec.sampling.
    history_batches.HistoryBatches` give every training transition (history before it, the
    next item); ``loss`` is the shared :func:`~graphrec.nn.losses.sampled_softmax_loss` of
    :meth:`train_query` against the target: the other targets of the batch
    (in-batch) and ``num_negatives`` uniform catalogue items are the negatives, accidental
    hits removed, with the logQ correction when ``logq`` (in-batch candidates:
    :math:`\log(B q_i)`, :math:`q_i` the item's share of training targets; uniform ones
    :math:`\log(N/|\mathcal{I}|)`). ``num_negatives=-1`` trains with the full softmax
    instead (:func:`~graphrec.nn.losses.full_softmax_loss`).

    Scoring (the one :class:`~graphrec.eval.Evaluator`): ``scorer_from(history)`` orders
    each user's history (training, plus validation at test time) by time and reads the last
    ``maxlen`` items, as the sequential models do.

    Subclasses implement :meth:`user_vectors` and :meth:`train_query`.
    """

    default_split: ClassVar[str | None] = "loo"

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 64,
                 maxlen: int = 50, num_negatives: int = 100, temperature: float = 1.0,
                 logq: bool = False, item_embedding: ItemEmbedding | None = None,
                 init_std: float | None = None) -> None:
        super().__init__()
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.maxlen = check_number("maxlen", maxlen, integer=True, low=1)
        self.num_negatives = check_number("num_negatives", num_negatives, integer=True,
                                          low=-1)
        self.temperature = check_number("temperature", temperature, low=0, low_open=True)
        self.logq = bool(logq)
        self.init_std = check_number("init_std", init_std, low=0, low_open=True, none_ok=True)
        self.shared_items = check_shared_table(item_embedding, num_items, embedding_dim)
        self.item_embedding = item_embedding or ItemEmbedding(num_items, embedding_dim,
                                                              init_std)

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> HistoryRetrieval:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    # ------------------------------------------------------------------ model hooks
    def user_vectors(self, users: Tensor | None, items: Tensor, times: Tensor
                     ) -> tuple[Tensor, Tensor]:
        """``[B, K, d]`` serving vectors and ``[B, K]`` bool mask (which exist) of users
        with right-aligned histories ``items`` / ``times`` ``[B, T]``; ``users`` is
        ``None`` for new users known only by their history."""
        raise NotImplementedError

    def train_query(self, batch: HistoryBatch) -> Tensor:
        """``[B, d]`` the training query of each sample (may read the target)."""
        vectors, _ = self.user_vectors(batch.users, batch.items, batch.times)
        return vectors[:, 0]

    # -------------------------------------------------------------------- training
    def train_batches(self, train: Interactions, batch_size: int, device: torch.device | str,
                      seed: int) -> HistoryBatches:
        return HistoryBatches(train, self.maxlen, batch_size,
                              num_negatives=max(self.num_negatives, 0), device=device,
                              seed=seed)

    def loss(self, batch: HistoryBatch) -> Tensor:
        query = self.train_query(batch)
        table = self.item_embedding.weight
        if self.num_negatives < 0:
            return full_softmax_loss(query, table, batch.targets, self.temperature)
        negatives = None if batch.negatives is None else table[batch.negatives]
        log_q = dict(log_q_positive=batch.log_q_targets,
                     log_q_negative=batch.log_q_negatives) if self.logq else {}
        return sampled_softmax_loss(query, table[batch.targets], negatives,
                                    temperature=self.temperature,
                                    positive_ids=batch.targets,
                                    negative_ids=batch.negatives, **log_q)

    # --------------------------------------------------------------------- scoring
    def histories(self, history: Interactions | Sequence[Interactions] | None
                  ) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
        """``users -> (items, times)``: each user's last ``maxlen`` items of ``history``
        in time order, right-aligned, cut to the batch's longest."""
        if history is None:
            raise ValueError(f"{type(self).__name__} needs the users' history to score")
        parts = [history] if isinstance(history, Interactions) else list(history)
        sequences = Sequences.from_interactions([p.to(self.device) for p in parts])
        maxlen = self.maxlen

        def window(users: Tensor) -> tuple[Tensor, Tensor]:
            items = sequences.window(users, maxlen)
            width = max(int((items != PADDING).sum(1).max()), 1)
            times = sequences.window(users, maxlen, values=sequences.times)
            return items[:, maxlen - width:], times[:, maxlen - width:].clamp(min=0)

        return window

    def interests_from(self, history: Interactions | Sequence[Interactions] | None,
                       new_users: bool = False
                       ) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
        """``users -> ([B, K, d] vectors, [B, K] mask)``: what an index is queried with
        (every vector of a user; the scores merge by maximum). Vectors the mask leaves out
        (MIND's unused interests) are copies of the user's first one, so a search that
        merges ``[B, K, d]`` queries by maximum without the mask (``ItemIndex.search``) ranks
        as :meth:`scorer_from` does. ``new_users``: the rows of ``history`` are not trained
        users (no user embedding is read)."""
        window = self.histories(history)

        def vectors(users: Tensor) -> tuple[Tensor, Tensor]:
            items, times = window(users)
            found, mask = self.user_vectors(None if new_users else users, items, times)
            return torch.where(mask.unsqueeze(-1), found, found[:, :1]), mask

        return vectors

    def scorer(self) -> Callable[[Tensor], Tensor]:
        raise ValueError(f"{type(self).__name__} scores from each user's history: use "
                         "scorer_from(history) (the evaluator and recommend do)")

    def scorer_from(self, history: Interactions | Sequence[Interactions] | None,
                    new_users: bool = False) -> Callable[[Tensor], Tensor]:
        vectors_of = self.interests_from(history, new_users)
        table_t = self.item_embedding.weight.t()

        def score(users: Tensor) -> Tensor:
            vectors, mask = vectors_of(users)
            scores = vectors @ table_t  # [B, K, I]
            if scores.size(1) == 1:
                return scores[:, 0]
            return scores.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)

        return score

    def score_histories(self, histories: Interactions) -> Tensor:
        """A new user's items (ordered by ``edge_time``, then ``edge_order``) are its
        history, read as a trained user's is; models with a user embedding use none."""
        return self.scorer_from(histories.to(self.device), new_users=True)(
            torch.arange(histories.num_users, device=self.device))
