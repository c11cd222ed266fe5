"""SDM: sequential deep matching with short-term sessions and long-term preferences."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from graphrec.graph.build import ITEM, USER
from graphrec.graph.checks import check_number
from graphrec.graph.sequences import PADDING
from graphrec.graph.side_info import SideField, side_fields
from graphrec.models.history_retrieval import HistoryRetrieval
from graphrec.models.registry import register
from graphrec.nn.item_embedding import ItemEmbedding


def short_term_lengths(items: Tensor, times: Tensor, session_len: int,
                       session_gap: int | None) -> Tensor:
    r"""``[B]`` how many of the latest items of each right-aligned history ``[B, T]`` form
    its short-term session: the items after the last gap of at least ``session_gap``
    between consecutive timestamps (SDM's session rule), at most ``session_len``;
    ``session_gap=None`` (data with an order but no times): the last ``session_len``."""
    valid = items != PADDING
    lengths = valid.sum(1)
    if session_gap is None:
        return lengths.clamp(max=session_len)
    width = items.size(1)
    cut = ((times[:, 1:] - times[:, :-1]) >= session_gap) & valid[:, 1:] & valid[:, :-1]
    columns = torch.arange(1, width, device=items.device)
    start = torch.where(cut, columns, 0).amax(1) if width > 1 else torch.zeros_like(lengths)
    start = torch.maximum(start, width - lengths)
    return (width - start).clamp(max=session_len)


def masked_softmax(logits: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over ``mask``-ed entries; all-masked rows give zeros (not NaN)."""
    weight = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=dim)
    return torch.nan_to_num(weight, nan=0.0) * mask


@register("sdm")
class SDM(HistoryRetrieval):
    r"""SDM, from `"SDM: Sequential Deep Matching Model for Online Large-scale Recommender
    System" <https://arxiv.org/abs/1909.00385>`_ (Lv et al., CIKM 2019).

    A user's history is split into the short-term session :math:`\mathcal{S}^u` (the latest
    items) and the long-term behaviours :math:`\mathcal{L}^u` before it.

    * Short term: the session's item inputs go through an LSTM, multi-head self-attention
      (``heads``) and a user attention with the user embedding :math:`\mathbf{e}_u`,
      :math:`\mathbf{s}^u = \sum_k \mathrm{softmax}_k(\hat{\mathbf{x}}_k^\top
      \mathbf{e}_u)\,\hat{\mathbf{x}}_k`.
    * Long term: per side-information channel :math:`f` (the item id; and every
      ``('item', r, value)`` field of the training graph, e.g. MovieLens genres and year
      buckets from :mod:`graphrec.graph.side_info`, an item's value embeddings averaged),
      attention over :math:`\mathcal{L}^u` with :math:`\mathbf{e}_u`:
      :math:`\mathbf{z}^f = \sum_k \mathrm{softmax}_k(\mathbf{g}^{f\top}_k \mathbf{e}_u)
      \mathbf{g}^f_k`, then :math:`\mathbf{p}^u = \tanh(\mathbf{W}^p[\mathbf{z}^1;
      \dots;\mathbf{z}^F] + \mathbf{b})`.
    * Gated fusion: :math:`\mathbf{G} = \sigma(\mathbf{W}^1\mathbf{e}_u +
      \mathbf{W}^2\mathbf{s}^u + \mathbf{W}^3\mathbf{p}^u + \mathbf{b})`,
      :math:`\mathbf{o}^u = (1 - \mathbf{G}) \odot \mathbf{p}^u + \mathbf{G} \odot
      \mathbf{s}^u`; the score of item :math:`j` is :math:`\mathbf{o}^{u\top}\mathbf{e}_j`
      (the shared :class:`~graphrec.nn.ItemEmbedding`).

    Sessions: with ``session_gap`` (seconds; the paper merges behaviours less than 10
    minutes apart, 600) the short-term session is the run of latest items with no gap of
    ``session_gap`` or more (at most ``session_len`` items), for data with real times such
    as MovieLens-100K. Sources with an order but no times (Amazon Beauty's lines) use
    ``session_gap=None``: the short-term session is the last ``session_len`` items. The
    long-term part is the rest of the ``maxlen`` window.

    Choices where the paper leaves room: the short-term item input is the id embedding
    plus the mean embedding of each side field (the paper concatenates its features); the
    user embedding :math:`\mathbf{e}_u` is a learned user-id embedding (the paper's user
    profile features: graphrec's sources have none in common); a new user known only by
    items (fold-in) gets :math:`\mathbf{e}_u = \mathbf{0}`, so both attentions average.

    Args:
        num_users, num_items: index space sizes.
        side_fields: item side-information fields (``from_graph`` reads them).
        embedding_dim: :math:`d`.
        heads: self-attention heads (divides ``embedding_dim``).
        dropout: attention dropout.
        session_len: the most items of the short-term session.
        session_gap: the session-splitting gap in timestamp units, or ``None``.
        maxlen, num_negatives, temperature, logq, item_embedding, init_std: see
            :class:`~graphrec.models.history_retrieval.HistoryRetrieval`.
    """

    train_defaults: ClassVar[dict[str, Any]] = {
        "lr": 3e-3, "batch_size": 256, "epochs": 50, "eval_every": 1, "patience": 3,
        "metric": "ndcg@50", "ks": (10, 20, 50)}

    @classmethod
    def from_graph(cls, train_graph: HeteroData, **kwargs) -> SDM:
        """An SDM over every ``('item', relation, value)`` side field of the graph."""
        relations = [edge_type for edge_type in train_graph.edge_types
                     if edge_type[0] == ITEM and edge_type[2] not in (USER, ITEM)]
        return cls(train_graph[USER].num_nodes, train_graph[ITEM].num_nodes,
                   side_fields=side_fields(train_graph, relations), **kwargs)

    def __init__(
        self,
        num_users: int,
        num_items: int,
        side_fields: Sequence[SideField] = (),
        embedding_dim: int = 64,
        heads: int = 2,
        dropout: float = 0.1,
        session_len: int = 5,
        session_gap: int | None = None,
        maxlen: int = 50,
        num_negatives: int = 100,
        temperature: float = 1.0,
        logq: bool = False,
        item_embedding: ItemEmbedding | None = None,
        init_std: float | None = None,
    ) -> None:
        super().__init__(num_users, num_items, embedding_dim, maxlen, num_negatives,
                         temperature, logq, item_embedding, init_std)
        heads = check_number("heads", heads, integer=True, low=1)
        if embedding_dim % heads:
            raise ValueError(f"heads must divide embedding_dim (got {heads} and "
                             f"{embedding_dim})")
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        self.session_len = check_number("session_len", session_len, integer=True, low=1)
        self.session_gap = check_number("session_gap", session_gap, integer=True, low=1,
                                        none_ok=True)
        self.heads = heads
        fields = list(side_fields)
        self.field_names = [field.name for field in fields]
        self.user_embedding = nn.Embedding(num_users, embedding_dim)
        self.side = nn.ModuleList(nn.Embedding(f.num_values, embedding_dim) for f in fields)
        for k, field in enumerate(fields):  # an item's values, padded with -1: [I, M]
            self.register_buffer(f"side_values_{k}", _value_table(field, num_items))
        self.lstm = nn.LSTM(embedding_dim, embedding_dim, batch_first=True)
        self.attention = nn.MultiheadAttention(embedding_dim, heads, dropout=dropout,
                                               batch_first=True)
        self.long_projection = nn.Linear(embedding_dim * (1 + len(fields)), embedding_dim)
        self.gate_user = nn.Linear(embedding_dim, embedding_dim, bias=False)
        self.gate_short = nn.Linear(embedding_dim, embedding_dim, bias=False)
        self.gate_long = nn.Linear(embedding_dim, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises the item table (unless shared) and every layer."""
        if not self.shared_items:
            self.item_embedding.reset_parameters()
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        for table in self.side:
            nn.init.normal_(table.weight, std=0.1)
        self.lstm.reset_parameters()
        self.attention._reset_parameters()
        for layer in (self.long_projection, self.gate_user, self.gate_short, self.gate_long):
            layer.reset_parameters()

    def side_embeddings(self, items: Tensor) -> list[Tensor]:
        """Per side field, ``[*, d]`` the mean embedding of each item's values (zero for
        padding and for items without a value)."""
        out = []
        for k, table in enumerate(self.side):
            values = getattr(self, f"side_values_{k}")[items.clamp(min=0)]  # [*, M]
            present = (values >= 0) & (items != PADDING).unsqueeze(-1)
            summed = (table(values.clamp(min=0)) * present.unsqueeze(-1)).sum(-2)
            out.append(summed / present.sum(-1, keepdim=True).clamp(min=1))
        return out

    def user_vectors(self, users: Tensor | None, items: Tensor, times: Tensor
                     ) -> tuple[Tensor, Tensor]:
        batch, width = items.shape
        user = (torch.zeros(batch, self.embedding_dim, device=items.device)
                if users is None else self.user_embedding(users))
        valid = items != PADDING
        short_count = short_term_lengths(items, times, self.session_len, self.session_gap)
        ids = self.item_embedding(items)  # [B, T, d], zero at padding
        sides = self.side_embeddings(items)
        short = self.short_term(ids + sum(sides, torch.zeros_like(ids)), short_count, user)
        columns = torch.arange(width, device=items.device)
        long_mask = valid & (columns.unsqueeze(0) < (width - short_count).unsqueeze(1))
        pooled = [self._attend(channel, long_mask, user) for channel in (ids, *sides)]
        long = torch.tanh(self.long_projection(torch.cat(pooled, dim=-1)))
        gate = torch.sigmoid(self.gate_user(user) + self.gate_short(short)
                             + self.gate_long(long))
        fused = (1 - gate) * long + gate * short
        return fused.unsqueeze(1), torch.ones(batch, 1, dtype=torch.bool, device=items.device)

    def short_term(self, inputs: Tensor, count: Tensor, user: Tensor) -> Tensor:
        """``[B, d]`` :math:`\\mathbf{s}^u` from the last ``count`` columns of ``inputs``."""
        batch, width, _ = inputs.shape
        span = min(self.session_len, width)
        steps = torch.arange(span, device=inputs.device)
        # the session left-aligned (padding after it) so the LSTM starts at its first item
        source = (width - count).unsqueeze(1) + steps  # [B, S]
        present = steps.unsqueeze(0) < count.unsqueeze(1)
        session = inputs.gather(1, source.clamp(max=width - 1).unsqueeze(-1).expand(
            -1, -1, inputs.size(-1))) * present.unsqueeze(-1)
        lengths = count.clamp(min=1).cpu()  # an empty history runs one zero step
        packed = nn.utils.rnn.pack_padded_sequence(session, lengths, batch_first=True,
                                                   enforce_sorted=False)
        hidden, _ = self.lstm(packed)
        hidden, _ = nn.utils.rnn.pad_packed_sequence(hidden, batch_first=True,
                                                     total_length=span)
        keys = steps.unsqueeze(0) < count.clamp(min=1).unsqueeze(1)
        attended, _ = self.attention(hidden, hidden, hidden, key_padding_mask=~keys,
                                     need_weights=False)
        return self._attend(attended, present, user)

    @staticmethod
    def _attend(values: Tensor, mask: Tensor, user: Tensor) -> Tensor:
        """User attention: ``sum_k softmax_k(v_k . e_u) v_k`` over ``mask``; zero if empty."""
        weight = masked_softmax((values * user.unsqueeze(1)).sum(-1), mask, dim=1)
        return (weight.unsqueeze(-1) * values).sum(1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_users}, {self.num_items}, "
                f"embedding_dim={self.embedding_dim}, side_fields={self.field_names}, "
                f"session_len={self.session_len}, session_gap={self.session_gap})")


def _value_table(field: SideField, num_items: int) -> Tensor:
    """``[num_items, M]`` each item's values of ``field`` (sorted), padded with -1."""
    item, value = field.edge_index
    counts = torch.bincount(item, minlength=num_items)
    width = max(int(counts.max()) if counts.numel() else 0, 1)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(item.numel()) - start[item]
    table = torch.full((num_items, width), -1, dtype=torch.long)
    table[item, rank] = value
    return table
