"""Property tests of every split: on arbitrary small graphs and arguments a split either
raises ``ValueError`` (never another exception) or returns parts that partition the
interactions exactly, with no empty training or test part and a validation part exactly
when one was asked for."""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphrec.graph import (
    INTERACTS,
    build_interaction_graph,
    fixed_split,
    holdout_validation,
    leave_one_out,
    random_split,
    temporal_split,
)

SPLITS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RATIO = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 1.0, float("nan"), float("inf")]),
                  st.floats(-0.5, 2.0))


@st.composite
def graphs(draw):
    """Users with 0..8 interactions over up to 12 items, times with ties."""
    num_users = draw(st.integers(1, 6))
    num_items = draw(st.integers(1, 12))
    users, items = [], []
    for user in range(num_users):
        chosen = draw(st.sets(st.integers(0, num_items - 1), max_size=min(8, num_items)))
        users += [user] * len(chosen)
        items += sorted(chosen)
    times = draw(st.lists(st.integers(0, 5), min_size=len(users), max_size=len(users)))
    return build_interaction_graph(np.asarray(users, dtype=np.int64),
                                   np.asarray(items, dtype=np.int64),
                                   times=np.asarray(times, dtype=np.int64),
                                   user_ids=range(num_users), item_ids=range(num_items))


def pairs(graph) -> list[tuple[int, int]]:
    return [tuple(p) for p in graph[INTERACTS].edge_index.t().tolist()]


def check_partition(graph, split, want_valid: bool) -> None:
    parts = [split.train, split.test] + ([split.valid] if split.valid is not None else [])
    every = [p for part in parts for p in pairs(part)]
    assert sorted(every) == sorted(pairs(graph))  # disjoint and complete
    assert pairs(split.train) and pairs(split.test)
    assert (split.valid is not None) == want_valid
    if split.valid is not None:
        assert pairs(split.valid)
    for part in parts:  # the same nodes everywhere
        assert part["user"].num_nodes == graph["user"].num_nodes
        assert part["item"].num_nodes == graph["item"].num_nodes


@SPLITS
@given(graph=graphs(), ratios=st.tuples(RATIO, RATIO, RATIO), seed=st.integers(0, 2**31),
       temporal=st.booleans())
def test_ratio_splits(graph, ratios, seed, temporal):
    allowed = (all(math.isfinite(r) and r >= 0 for r in ratios) and ratios[0] > 0
               and ratios[2] > 0)
    try:
        split = (temporal_split(graph, ratios) if temporal
                 else random_split(graph, ratios, seed=seed))
    except ValueError as err:
        # refused ratios, or ratios the users are too short for: never anything else
        assert not allowed or "part empty" in str(err) or "no interactions" in str(err)
        return
    assert allowed
    check_partition(graph, split, want_valid=ratios[1] > 0)
    if temporal:  # per user, nothing in training is later than anything held out
        time = {p: t for p, t in zip(pairs(graph), graph[INTERACTS].time.tolist(), strict=True)}
        held = pairs(split.test) + (pairs(split.valid) if split.valid is not None else [])
        for user, item in pairs(split.train):
            later = [time[p] for p in held if p[0] == user]
            assert all(time[(user, item)] <= t for t in later)


@SPLITS
@given(graph=graphs(), order=st.sampled_from(["time", "edge", "random"]),
       seed=st.integers(0, 2**31))
def test_leave_one_out(graph, order, seed):
    degree = torch.bincount(graph[INTERACTS].edge_index[0], minlength=graph["user"].num_nodes)
    try:
        split = leave_one_out(graph, order=order, seed=seed)
    except ValueError as err:
        assert int(degree.max()) < 3, str(err)  # no user to hold anything out from
        return
    check_partition(graph, split, want_valid=True)
    held_users = sorted(u for u, _ in pairs(split.test))
    assert held_users == sorted(int(u) for u in torch.nonzero(degree >= 3).view(-1))


@SPLITS
@given(graph=graphs(), ratio=RATIO, seed=st.integers(0, 2**31), data=st.data())
def test_fixed_split_and_holdout(graph, ratio, seed, data):
    edges = pairs(graph)
    flags = data.draw(st.lists(st.booleans(), min_size=len(edges), max_size=len(edges)))
    train = [p for p, f in zip(edges, flags, strict=True) if f]
    test = [p for p, f in zip(edges, flags, strict=True) if not f]

    def as_tensors(chosen):
        return (torch.tensor([u for u, _ in chosen], dtype=torch.long),
                torch.tensor([i for _, i in chosen], dtype=torch.long))

    try:
        split = fixed_split(graph, as_tensors(train), as_tensors(test))
    except ValueError:
        assert not train or not test
        return
    check_partition(graph, split, want_valid=False)
    try:
        held = holdout_validation(split, ratio, seed=seed)
    except ValueError as err:
        assert not 0 < ratio < 1 or "validation part empty" in str(err)
        return
    assert 0 < ratio < 1
    check_partition(graph, held, want_valid=True)
    assert pairs(held.test) == pairs(split.test)
