"""What every next-item (sequence) model shares: batches, losses and history scoring."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING, Sequences
from graphrec.models.base import Recommender, check_sizes
from graphrec.nn.item_embedding import ItemEmbedding, check_shared_table, init_normal_
from graphrec.nn.seq.attention_block import SelfAttentionBlock
from graphrec.nn.seq.mhc import expand_streams, merge_streams
from graphrec.sampling.sequence_batches import SequenceBatch, SequenceBatches

#: Training losses of sequence models (see :class:`SequentialRecommender`).
LOSSES = ("ce", "bce", "sampled_softmax")


def attention_mask(items: Tensor) -> Tensor:
    """``[B, T, T]`` bool: query ``i`` may attend to key ``j`` iff ``j <= i`` and ``j`` is an
    item. A padding query attends to itself only (its output is never read), so no row is
    empty and no padding key ever reaches an item's representation."""
    length = items.size(1)
    causal = torch.ones(length, length, dtype=torch.bool, device=items.device).tril()
    is_item = (items != PADDING).unsqueeze(1)
    diagonal = torch.eye(length, dtype=torch.bool, device=items.device)
    return causal & (is_item | diagonal)


def check_attention_args(heads: int, dropout: float) -> None:
    """``heads`` (an integer >= 1) and ``dropout`` (in ``[0, 1)``) of the attention models."""
    check_number("heads", heads, integer=True, low=1)
    check_number("dropout", dropout, low=0, high=1, high_open=True)


class SequentialRecommender(Recommender):
    r"""Base of next-item models: ``encode(items, positions, times) -> [B, T, d]`` hidden
    states; the score of item :math:`j` after position :math:`t` is
    :math:`\mathbf{h}_t^\top \mathbf{e}_j` with :math:`\mathbf{E}` the (shareable)
    :class:`~graphrec.nn.ItemEmbedding`.

    Training (through the one :class:`~graphrec.train.Trainer`): ``train_batches`` gives
    :class:`~graphrec.sampling.SequenceBatches` (one window per user), ``loss`` reads only
    positions whose target is an item (padding never reaches it):

    * ``"ce"``: full softmax cross-entropy over all items,
      :math:`-\log \frac{\exp(\mathbf{h}_t^\top\mathbf{e}_{y})}{\sum_j
      \exp(\mathbf{h}_t^\top\mathbf{e}_j)}`.
    * ``"bce"``: the paper's binary cross-entropy with one negative per position drawn from
      the user's non-interacted items, :math:`-\log\sigma(s_y) - \log(1 - \sigma(s_{n}))`.
    * ``"sampled_softmax"``: softmax over the target and ``num_negatives`` items shared by
      the batch, drawn from the training item frequency :math:`q`, with the logQ correction
      :math:`s_j - \log q_j` on every candidate (Yi et al., RecSys 2019); a negative equal
      to the target is masked.

    Scoring (through the one :class:`~graphrec.eval.Evaluator`): ``scorer_from(history)``
    orders each user's ``history`` interactions by time (training, plus validation at test
    time), takes the last ``maxlen`` as input and scores all items from the last hidden
    state.

    Args:
        num_users, num_items: index space sizes.
        embedding_dim: :math:`d`.
        maxlen: input window length.
        loss: one of :data:`LOSSES`.
        num_negatives: negatives of ``"sampled_softmax"``.
        item_embedding: an :class:`~graphrec.nn.ItemEmbedding` to share (e.g. a trained
            LightGCN's); a new one (``init_std``) otherwise.
        init_std: initial standard deviation of a new item table and of the position (and
            interval) tables; ``None`` (default): Xavier-normal per table, as the authors'
            code initialises them.
        scale_embeddings: multiply the input item embeddings by :math:`\sqrt{d}` (the
            Transformer's and the SASRec / TiSASRec authors' code; the output scores use
            the unscaled table). With Xavier-normal tables (together) it raised SASRec's
            validation NDCG@10 on Beauty after 5 epochs from 0.0324 to 0.0513
            (docs/sequential.md).
    """

    default_split: ClassVar[str | None] = "loo"  # last item test, second last validation

    uses_time = False

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        maxlen: int = 50,
        loss: str = "ce",
        num_negatives: int = 256,
        item_embedding: ItemEmbedding | None = None,
        init_std: float | None = None,
        scale_embeddings: bool = True,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES} (got {loss!r})")
        self.num_users, self.num_items = check_sizes(num_users, num_items)
        self.embedding_dim = check_number("embedding_dim", embedding_dim, integer=True, low=1)
        self.maxlen = check_number("maxlen", maxlen, integer=True, low=1)
        self.loss_name = loss
        self.num_negatives = check_number("num_negatives", num_negatives, integer=True, low=1)
        self.init_std = check_number("init_std", init_std, low=0, low_open=True, none_ok=True)
        self.scale_embeddings = scale_embeddings
        self.input_scale = math.sqrt(embedding_dim) if scale_embeddings else 1.0
        self.shared_items = check_shared_table(item_embedding, num_items, embedding_dim)
        self.item_embedding = item_embedding or ItemEmbedding(num_items, embedding_dim,
                                                              init_std)

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> SequentialRecommender:
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes, **kwargs)

    def reset_parameters(self) -> None:
        """Re-initialises the item table (unless shared), the position tables of
        :meth:`position_tables` (``init_std``), the blocks and the final norm."""
        if not self.shared_items:
            self.item_embedding.reset_parameters()
        for table in self.position_tables():
            init_normal_(table.weight, self.init_std)
        for block in self.blocks:
            block.reset_parameters()
        self.final_norm.reset_parameters()

    def position_tables(self) -> list[torch.nn.Embedding]:
        """The model's own position (and interval) embedding tables."""
        return []

    def embed_items(self, items: Tensor) -> Tensor:
        """Input embeddings of ``[B, T]`` items (zero at padding), times ``input_scale``."""
        return self.item_embedding(items) * self.input_scale

    def encode(self, items: Tensor, positions: Tensor, times: Tensor) -> Tensor:
        """``[B, T]`` items (left-padded), ``[T]`` positions, ``[B, T]`` time steps ->
        ``[B, T, d]`` hidden states."""
        raise NotImplementedError

    def build_blocks(self, attention: Callable[[], torch.nn.Module], num_blocks: int,
                     dropout: float, norm_first: bool, mhc_expansion: int | None,
                     sinkhorn_iterations: int, sinkhorn_implicit_grad: bool = False) -> None:
        """Sets ``blocks`` (``num_blocks`` :class:`~graphrec.nn.seq.SelfAttentionBlock` around
        ``attention()`` layers) and the final layer norm that :meth:`run_blocks` uses."""
        mhc_expansion = check_number("mhc_expansion", mhc_expansion, integer=True, low=1,
                                     none_ok=True)
        num_blocks = check_number("num_blocks", num_blocks, integer=True, low=0)
        check_number("sinkhorn_iterations", sinkhorn_iterations, integer=True, low=1)
        self.num_blocks = num_blocks
        self.mhc_expansion = mhc_expansion
        self.blocks = torch.nn.ModuleList([
            SelfAttentionBlock(attention(), self.embedding_dim, dropout, norm_first,
                               mhc_expansion, sinkhorn_iterations, sinkhorn_implicit_grad)
            for _ in range(num_blocks)])
        self.final_norm = torch.nn.LayerNorm(self.embedding_dim)

    def run_blocks(self, x: Tensor, allowed: Tensor, **context: Tensor) -> Tensor:
        """The blocks (over ``mhc_expansion`` streams when set, read out as their mean),
        then the final layer norm."""
        if self.mhc_expansion:
            x = expand_streams(x, self.mhc_expansion)
        for block in self.blocks:
            x = block(x, allowed, **context)
        if self.mhc_expansion:
            x = merge_streams(x)
        return self.final_norm(x)

    def train_batches(
        self, train: Interactions, batch_size: int, device: torch.device | str, seed: int
    ) -> SequenceBatches:
        negatives = {"ce": "none", "bce": "user", "sampled_softmax": "shared"}[self.loss_name]
        return SequenceBatches(train, self.maxlen, batch_size, negatives=negatives,
                               num_negatives=self.num_negatives, device=device, seed=seed)

    def loss(self, batch: SequenceBatch) -> Tensor:
        hidden = self.encode(batch.items, batch.positions, batch.times)
        valid = batch.targets != PADDING
        hidden, targets = hidden[valid], batch.targets[valid]
        table = self.item_embedding.weight
        if self.loss_name == "ce":
            return F.cross_entropy(hidden @ table.t(), targets)
        positive = (hidden * table[targets]).sum(-1)
        if self.loss_name == "bce":
            negative = (hidden * table[batch.negatives[valid]]).sum(-1)
            return (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive))
                    + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative)))
        log_q = batch.log_q
        negative = hidden @ table[batch.negatives].t() - log_q[batch.negatives]
        negative = negative.masked_fill(targets.unsqueeze(1) == batch.negatives.unsqueeze(0),
                                        float("-inf"))
        logits = torch.cat([(positive - log_q[targets]).unsqueeze(1), negative], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(targets))

    def output_items(self) -> Tensor:
        """``[num_items, d]`` item vectors the hidden states are scored against (the item
        table; a two-tower model's item tower)."""
        return self.item_embedding.weight

    def scorer(self) -> Callable[[Tensor], Tensor]:
        raise ValueError(f"{type(self).__name__} scores from each user's history: use "
                         "scorer_from(history) (the evaluator and recommend do)")

    def scorer_from(
        self, history: Interactions | Sequence[Interactions] | None
    ) -> Callable[[Tensor], Tensor]:
        if history is None:
            raise ValueError(f"{type(self).__name__} needs the users' history to score")
        parts = [history] if isinstance(history, Interactions) else list(history)
        sequences = Sequences.from_interactions([p.to(self.device) for p in parts])
        times = sequences.scaled_times() if self.uses_time else None
        table_t = self.output_items().t()
        maxlen = self.maxlen

        def score(users: Tensor) -> Tensor:
            items = sequences.window(users, maxlen)
            width = max(int((items != PADDING).sum(1).max()), 1)
            items = items[:, maxlen - width:]
            steps = (sequences.window(users, maxlen, values=times)[:, maxlen - width:]
                     .clamp(min=0) if times is not None else torch.zeros_like(items))
            positions = torch.arange(maxlen - width, maxlen, device=items.device)
            return self.encode(items, positions, steps)[:, -1] @ table_t

        return score

    def score_histories(self, histories: Interactions) -> Tensor:
        """A new user's items are its input sequence (ordered by ``edge_time``, then
        ``edge_order``), scored as a trained user's history is."""
        return self.scorer_from(histories)(
            torch.arange(histories.num_users, device=self.device))
