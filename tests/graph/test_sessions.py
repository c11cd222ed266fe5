import pytest
import torch

from graphrec.graph.build import INTERACTS, TAGGED
from graphrec.graph.sessions import (
    ONE_DAY,
    build_sessions,
    events_as_interactions,
    item_graph,
    sessions_from_graph,
)


def _as_lists(sessions):
    return [sessions.items[a:b].tolist() for a, b in
            zip(sessions.offsets[:-1].tolist(), sessions.offsets[1:].tolist(), strict=True)]


def test_sessions_split_on_gap_and_drop_single_items():
    # user 0: 1, 2 (same day) | gap of a day | 3 alone (dropped); user 1: 4, 5, 6; user 2: 7
    users = torch.tensor([1, 0, 0, 0, 1, 1, 2])
    items = torch.tensor([5, 2, 1, 3, 4, 6, 7])
    times = torch.tensor([6, 10, 0, 10 + ONE_DAY, 5, 7, 8])
    sessions = build_sessions(users, items, times, num_items=8)
    assert _as_lists(sessions) == [[1, 2], [4, 5, 6]]
    assert sessions.users.tolist() == [0, 1]
    assert sessions.lengths.tolist() == [2, 3]
    assert sessions.session_of.tolist() == [0, 0, 1, 1, 1]
    assert sessions.transitions().tolist() == [[1, 4, 5], [2, 5, 6]]


def test_gap_just_below_threshold_keeps_session_and_none_means_whole_user():
    users = torch.zeros(3, dtype=torch.long)
    items = torch.tensor([0, 1, 2])
    times = torch.tensor([0, ONE_DAY - 1, 2 * ONE_DAY])
    assert _as_lists(build_sessions(users, items, times, 3)) == [[0, 1]]
    assert _as_lists(build_sessions(users, items, times, 3, max_gap=None)) == [[0, 1, 2]]


def test_day_resolution_gives_one_session_per_user_and_day():
    # midnights: day 0 twice, day 1 twice, day 3 once
    times = torch.tensor([0, 0, ONE_DAY, ONE_DAY, 3 * ONE_DAY])
    items = torch.tensor([0, 1, 2, 3, 4])
    sessions = build_sessions(torch.zeros(5, dtype=torch.long), items, times, 5)
    assert _as_lists(sessions) == [[0, 1], [2, 3]]


def test_ties_keep_input_order_and_consecutive_repeats_merge():
    users = torch.zeros(5, dtype=torch.long)
    items = torch.tensor([3, 3, 1, 3, 2])
    times = torch.tensor([5, 5, 5, 5, 5])
    assert _as_lists(build_sessions(users, items, times, 4)) == [[3, 1, 3, 2]]


def test_denoising_min_item_count_and_max_items_per_user():
    users = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    items = torch.tensor([0, 1, 2, 0, 1, 0, 1, 3, 2])
    times = torch.zeros(9, dtype=torch.long)
    # user 2 has 4 events > 3: dropped; then item 2 occurs once (< 2), item 3 never
    sessions = build_sessions(users, items, times, 4, min_item_count=2, max_items_per_user=3)
    assert _as_lists(sessions) == [[0, 1], [0, 1]]
    assert sessions.users.tolist() == [0, 1]


def test_item_graph_weights_count_transitions():
    users = torch.tensor([0, 0, 0, 1, 1, 1])
    items = torch.tensor([0, 1, 2, 0, 1, 0])
    times = torch.tensor([0, 1, 2, 0, 1, 2])
    graph = item_graph(build_sessions(users, items, times, 3))
    assert graph.edge_index.tolist() == [[0, 1, 1], [1, 0, 2]]
    assert graph.weights.tolist() == [2.0, 1.0, 1.0]
    undirected = item_graph(build_sessions(users, items, times, 3), symmetric=True)
    assert undirected.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert undirected.weights.tolist() == [3.0, 3.0, 1.0, 1.0]


def test_cut_removes_items_and_pairs_without_creating_transitions():
    sessions = build_sessions(torch.zeros(6, dtype=torch.long), torch.tensor([0, 1, 2, 3, 4, 5]),
                              torch.arange(6), 6)
    cold = torch.zeros(6, dtype=torch.bool)
    cold[2] = True
    cut = sessions.cut(drop_items=cold, drop_pairs=torch.tensor([[5], [4]]))
    assert _as_lists(cut) == [[0, 1], [3, 4]]  # 2 removed (no 1->3), 4-5 cut (reverse given)
    assert cut.users.tolist() == [0, 0]
    graph = item_graph(cut)
    assert graph.edge_index.tolist() == [[0, 3], [1, 4]]


def test_sessions_errors():
    with pytest.raises(ValueError, match="same length"):
        build_sessions(torch.zeros(2, dtype=torch.long), torch.zeros(3, dtype=torch.long),
                       torch.zeros(2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="out of range"):
        build_sessions(torch.zeros(1, dtype=torch.long), torch.tensor([5]),
                       torch.zeros(1, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="max_gap"):
        build_sessions(torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long),
                       torch.zeros(1, dtype=torch.long), 2, max_gap=0)


@pytest.mark.realdata
def test_lastfm_tagging_sessions_are_user_days(lastfm):
    sessions = sessions_from_graph(lastfm.graph, TAGGED)
    assert sessions.num_sessions > 1000
    assert bool((sessions.lengths >= 2).all())
    # consecutive items of a session are distinct and every session is one (user, day)
    session = sessions.session_of
    same = session[1:] == session[:-1]
    assert not bool((sessions.items[1:] == sessions.items[:-1])[same].any())
    store = lastfm.graph[TAGGED]
    key = store.edge_index[0] * (1 << 40) + store.time
    days_per_user_session = torch.unique(key).numel()
    assert sessions.num_sessions <= days_per_user_session
    # the events as interactions: one edge per distinct (user, item), its first date
    events = events_as_interactions(lastfm.graph, TAGGED)
    pairs = store.edge_index[0] * lastfm.graph["item"].num_nodes + store.edge_index[1]
    assert events[INTERACTS].edge_index.size(1) == torch.unique(pairs).numel()
    first = torch.full((int(pairs.max()) + 1,), 2**62).scatter_reduce(
        0, pairs, store.time, reduce="amin")
    user, item = events[INTERACTS].edge_index
    assert torch.equal(events[INTERACTS].time,
                       first[user * lastfm.graph["item"].num_nodes + item])
