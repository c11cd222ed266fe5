r"""The item-embedding protocol's data: leave-one-out events, sessions, the item graph, cold
items and held-out pairs (EGES, section 4.1).

`Wang et al., KDD 2018 <https://arxiv.org/abs/1803.02349>`_ evaluate item embeddings on
held-out edges of the item graph. :func:`prepare_item_embedding_task` builds that task once
per data set; :mod:`graphrec.eval.item_embeddings` scores any embedding on it (and
re-exports everything here). The preparation:

1. **leave-one-out**: per user, the last event (by time) is the recall target, the rest is
   training (:func:`~graphrec.graph.split.leave_one_out`; its validation event is the
   user's last *training* event, the query). Users with fewer than 3 events keep all in
   training and are not evaluated.
2. **sessions and item graph** from the training events only
   (:func:`~graphrec.graph.sessions.build_sessions`,
   :func:`~graphrec.graph.sessions.item_graph`).
3. **cold items**: a seeded ``cold_fraction`` of the items of the item graph is removed
   from training entirely (every session is cut where such an item occurred).
4. **held-out edges**: a seeded ``holdout`` fraction of the item-graph edges among warm
   items is removed from training. Edges are held out as *unordered pairs* (both
   directions), so the reverse transition cannot leak the answer.
5. **corrupted pairs**: each held-out pair :math:`(i, j)` (orientation drawn at random) gets
   a negative :math:`(i, j')`, :math:`j'` uniform over the warm items of the item graph such
   that :math:`\{i, j'\}` is no edge of the full item graph; each pair with a cold endpoint
   gets one with the cold item kept as :math:`i` and :math:`j'` drawn from all items of the
   graph (:func:`corrupt_pairs`).

This is data preparation from graph-level parts only, so it sits in :mod:`graphrec.graph`
(sequence models and walks train on its ``train_sessions`` / ``train_graph``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphrec.graph.build import INTERACTS, ITEM, USER
from graphrec.graph.interactions import Interactions
from graphrec.graph.sessions import ONE_DAY, Sessions, build_sessions, item_graph
from graphrec.graph.split import leave_one_out
from graphrec.graph.walk_graph import WalkGraph


def _undirected_pairs(graph: WalkGraph) -> Tensor:
    """``[2, P]`` distinct unordered pairs ``i < j`` of the graph's edges (self-loops
    dropped), sorted."""
    src, dst = graph.edge_index
    low, high = torch.minimum(src, dst), torch.maximum(src, dst)
    key = (low * graph.num_nodes + high)[low != high].unique()
    return torch.stack([key // graph.num_nodes, key % graph.num_nodes])


def corrupt_pairs(pairs: Tensor, candidates: Tensor, known: Tensor, num_nodes: int,
                  generator: torch.Generator, max_rounds: int = 100) -> Tensor:
    """For every pair ``(i, j)``, a pair ``(i, j')`` with ``j'`` uniform over
    ``candidates``, ``j' != i`` and ``{i, j'}`` not among the ``known`` sorted unordered
    keys ``min * num_nodes + max`` (vectorised rejection)."""
    first = pairs[0]
    other = torch.full_like(first, -1)
    pending = torch.arange(first.numel())
    for _ in range(max_rounds):
        if pending.numel() == 0:
            break
        draw = candidates[torch.randint(candidates.numel(), (pending.numel(),),
                                        generator=generator)]
        i = first[pending]
        key = torch.minimum(i, draw) * num_nodes + torch.maximum(i, draw)
        pos = torch.searchsorted(known, key).clamp_(max=max(known.numel() - 1, 0))
        ok = (draw != i) & ~((known.numel() > 0) & (known[pos] == key))
        other[pending[ok]] = draw[ok]
        pending = pending[~ok]
    if pending.numel():
        raise RuntimeError(f"could not draw non-edges for {pending.numel()} pairs")
    return torch.stack([first, other])


@dataclass
class ItemEmbeddingTask:
    """Everything :func:`~graphrec.eval.item_embeddings.evaluate_item_embeddings` needs, and
    the training data.

    Attributes:
        num_users, num_items: index space sizes.
        train_events: ``(users, items, times)`` of the leave-one-out training events.
        sessions: sessions of the training events (all items).
        train_sessions: ``sessions`` cut at cold items and held-out pairs: what sequence
            models train on.
        train_graph: the item graph of ``train_sessions`` (what walks run on).
        cold: ``[num_items]`` bool, the items removed from training.
        held_out: ``[2, P]`` held-out warm pairs; ``test_pos`` / ``test_neg`` the oriented
            positives and their corrupted negatives.
        cold_pos / cold_neg: ``[2, Q]`` pairs with a cold item first.
        train / target: leave-one-out training interactions and targets.
        query: ``[num_users]`` each user's last training item (``-1``: none).
        recall_users: users evaluated by item-to-item recall.
    """

    num_users: int
    num_items: int
    train_events: tuple[Tensor, Tensor, Tensor]
    sessions: Sessions
    train_sessions: Sessions
    train_graph: WalkGraph
    cold: Tensor
    held_out: Tensor
    test_pos: Tensor
    test_neg: Tensor
    cold_pos: Tensor
    cold_neg: Tensor
    train: Interactions
    target: Interactions
    query: Tensor
    recall_users: Tensor

    def user_sequences(self) -> Sessions:
        """Each user's whole time-ordered training sequence (item2vec's corpus), cut like
        ``train_sessions`` at cold items and held-out pairs."""
        users, items, times = self.train_events
        full = build_sessions(users, items, times, self.num_items, max_gap=None)
        return full.cut(drop_items=self.cold, drop_pairs=self.held_out)

    def summary(self) -> dict[str, int]:
        return {
            "sessions": self.sessions.num_sessions,
            "item_graph_pairs": int(_undirected_pairs(item_graph(self.sessions)).size(1)),
            "train_graph_edges": self.train_graph.num_edges,
            "cold_items": int(self.cold.sum()),
            "held_out_pairs": int(self.test_pos.size(1)),
            "cold_pairs": int(self.cold_pos.size(1)),
            "recall_users": int(self.recall_users.numel()),
        }


def prepare_item_embedding_task(
    graph: HeteroData,
    *,
    max_gap: int | None = ONE_DAY,
    holdout: float = 1 / 3,
    cold_fraction: float = 0.1,
    symmetric: bool = True,
    seed: int = 0,
    **session_kwargs,
) -> ItemEmbeddingTask:
    """Builds the protocol of the module docstring from a graph whose
    ``('user', 'interacts', 'item')`` edges carry ``time`` (ratings, or tagging events
    turned into interactions). ``symmetric``: walk on the undirected item graph.
    ``session_kwargs`` go to :func:`~graphrec.graph.sessions.build_sessions` (denoising)."""
    if not 0 < holdout < 1 or not 0 <= cold_fraction < 1:
        raise ValueError("holdout must lie in (0, 1) and cold_fraction in [0, 1)")
    num_users, num_items = int(graph[USER].num_nodes), int(graph[ITEM].num_nodes)
    split = leave_one_out(graph, order="time")
    parts = [split.train[INTERACTS]] + ([split.valid[INTERACTS]] if split.valid else [])
    edge_index = torch.cat([p.edge_index for p in parts], 1)
    times = torch.cat([p.time for p in parts])
    users, items = edge_index
    sessions = build_sessions(users, items, times, num_items, max_gap=max_gap,
                              **session_kwargs)
    full = item_graph(sessions)
    pairs = _undirected_pairs(full)
    known = pairs[0] * num_items + pairs[1]
    generator = torch.Generator().manual_seed(seed)

    in_graph = torch.zeros(num_items, dtype=torch.bool)
    in_graph[pairs.view(-1)] = True
    graph_items = in_graph.nonzero().view(-1)
    num_cold = int(round(cold_fraction * graph_items.numel()))
    cold = torch.zeros(num_items, dtype=torch.bool)
    cold[graph_items[torch.randperm(graph_items.numel(), generator=generator)[:num_cold]]] = True

    touches_cold = cold[pairs[0]] | cold[pairs[1]]
    warm_pairs = pairs[:, ~touches_cold]
    num_held = int(round(holdout * warm_pairs.size(1)))
    held_out = warm_pairs[:, torch.randperm(warm_pairs.size(1), generator=generator)[:num_held]]
    flip = torch.rand(num_held, generator=generator) < 0.5
    test_pos = torch.where(flip, held_out.flip(0), held_out)
    warm_items = graph_items[~cold[graph_items]]
    test_neg = corrupt_pairs(test_pos, warm_items, known, num_items, generator)

    cold_pairs = pairs[:, touches_cold]
    cold_first = torch.where(cold[cold_pairs[0]], cold_pairs, cold_pairs.flip(0))
    cold_neg = (corrupt_pairs(cold_first, graph_items, known, num_items, generator)
                if cold_first.numel() else cold_first)

    train_sessions = sessions.cut(drop_items=cold, drop_pairs=held_out)
    train_graph = item_graph(train_sessions, symmetric=symmetric)

    train = Interactions(edge_index, num_users, num_items)
    target = Interactions.from_graph(split.test)
    query = torch.full((num_users,), -1, dtype=torch.long)
    if split.valid is not None:
        valid_users, valid_items = split.valid[INTERACTS].edge_index
        query[valid_users] = valid_items
    target_item = torch.full((num_users,), -1, dtype=torch.long)
    target_item[target.users] = target.indices
    eligible = (query >= 0) & (target_item >= 0)
    eligible &= ~cold[query.clamp(min=0)] & ~cold[target_item.clamp(min=0)]
    return ItemEmbeddingTask(
        num_users=num_users, num_items=num_items, train_events=(users, items, times),
        sessions=sessions, train_sessions=train_sessions, train_graph=train_graph, cold=cold,
        held_out=held_out, test_pos=test_pos, test_neg=test_neg, cold_pos=cold_first,
        cold_neg=cold_neg, train=train, target=target, query=query,
        recall_users=eligible.nonzero().view(-1))
