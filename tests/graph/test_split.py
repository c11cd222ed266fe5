import numpy as np
import pytest
import torch

from graphrec.graph import (
    FOLLOWS,
    INTERACTS,
    build_interaction_graph,
    fixed_split,
    holdout_validation,
    leave_one_out,
    random_split,
    temporal_split,
)


def _graph(degrees, with_time=True, social=False):
    users = np.repeat(np.arange(len(degrees)), degrees)
    items = np.concatenate([np.arange(d) for d in degrees])
    times = np.concatenate([np.arange(d)[::-1] for d in degrees])  # item 0 is the latest
    return build_interaction_graph(users, items, times=times if with_time else None,
                                   social=([0], [1]) if social else None)


def _pairs(graph):
    return {tuple(p) for p in graph[INTERACTS].edge_index.t().tolist()}


def test_random_split_counts_follow_recbole_and_parts_partition_edges():
    graph = _graph([50, 10, 5, 2, 1], social=True)
    split = random_split(graph, seed=3)
    train, valid, test = _pairs(split.train), _pairs(split.valid), _pairs(split.test)
    assert train | valid | test == _pairs(graph)
    assert not (train & valid) and not (train & test) and not (valid & test)

    def per_user(pairs):
        return np.bincount([u for u, _ in pairs], minlength=5).tolist()

    # RecBole: floor(0.1 n) each; fractional shares get one while training keeps > 1 item
    assert per_user(valid) == [5, 1, 1, 0, 0]
    assert per_user(test) == [5, 1, 1, 1, 0]
    assert per_user(train) == [40, 8, 3, 1, 1]
    assert split.train[FOLLOWS].edge_index.tolist() == [[0], [1]]  # social kept everywhere


def test_random_split_is_seeded():
    graph = _graph([30, 30, 30])
    assert _pairs(random_split(graph, seed=1).test) == _pairs(random_split(graph, seed=1).test)
    assert _pairs(random_split(graph, seed=1).test) != _pairs(random_split(graph, seed=2).test)


def test_temporal_split_puts_latest_last():
    graph = _graph([10])  # item 0 latest, item 9 earliest
    split = temporal_split(graph)
    assert _pairs(split.test) == {(0, 0)}
    assert _pairs(split.valid) == {(0, 1)}
    assert _pairs(split.train) == {(0, i) for i in range(2, 10)}
    with pytest.raises(ValueError, match="time"):
        temporal_split(_graph([3], with_time=False))


def test_leave_one_out_keeps_short_users_in_training():
    graph = _graph([4, 2])
    split = leave_one_out(graph)
    assert _pairs(split.test) == {(0, 0)}
    assert _pairs(split.valid) == {(0, 1)}
    assert _pairs(split.train) == {(0, 2), (0, 3), (1, 0), (1, 1)}


def test_leave_one_out_random_order_is_seeded_and_per_user():
    graph = _graph([6, 5, 2])
    split = leave_one_out(graph, order="random", seed=3)
    assert {u for u, _ in _pairs(split.test)} == {0, 1} == {u for u, _ in _pairs(split.valid)}
    everything = _pairs(split.train) | _pairs(split.valid) | _pairs(split.test)
    assert everything == _pairs(graph) and len(_pairs(split.train)) == 13 - 4
    again = leave_one_out(graph, order="random", seed=3)
    assert _pairs(again.test) == _pairs(split.test)
    held = {frozenset(_pairs(leave_one_out(graph, order="random", seed=s).test))
            for s in range(8)}
    assert len(held) > 1  # the seed matters
    with pytest.raises(ValueError, match="random"):
        leave_one_out(graph, order="bogus")


def test_fixed_split_and_holdout_validation():
    graph = _graph([6, 6])
    train = (torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    test = (torch.tensor([0, 0, 1, 1]), torch.tensor([4, 5, 4, 5]))
    split = fixed_split(graph, train, test)
    assert split.valid is None and len(_pairs(split.test)) == 4
    with pytest.raises(ValueError, match="overlap"):
        fixed_split(graph, train, (torch.tensor([0]), torch.tensor([0])))
    with pytest.raises(ValueError, match="out of range"):
        fixed_split(graph, train, (torch.tensor([0]), torch.tensor([9])))
    sparse_graph = _graph([6, 5])
    with pytest.raises(ValueError, match="not interaction edges"):
        fixed_split(sparse_graph, train, (torch.tensor([1]), torch.tensor([5])))
    held = holdout_validation(split, 0.25, seed=0)
    assert _pairs(held.train) | _pairs(held.valid) == _pairs(split.train)
    assert len(_pairs(held.valid)) == 2 and _pairs(held.test) == _pairs(split.test)


# ---------------------------------------------------------------- no empty part, ever


@pytest.mark.parametrize("split_fn", [random_split, temporal_split])
def test_ratios_leaving_no_training_or_test_share_are_refused(split_fn):
    graph = _graph([10, 10])
    # --valid-ratio 0.5 made (0, 0.5, 0.5): a model trained on nothing
    with pytest.raises(ValueError, match="no share for training"):
        split_fn(graph, (0.0, 0.5, 0.5))
    # --valid-ratio 0 made (1, 0, 0): NaN test metrics
    with pytest.raises(ValueError, match="no share for testing"):
        split_fn(graph, (1.0, 0.0, 0.0))
    for bad in ((-0.2, 0.6, 0.6), (0.8, float("nan"), 0.1), (0.8, 0.2), "abc"):
        with pytest.raises(ValueError, match="three finite non-negative numbers"):
            split_fn(graph, bad)


def test_valid_ratio_zero_means_no_validation_part():
    split = random_split(_graph([10, 10]), (0.8, 0.0, 0.2), seed=0)
    assert split.valid is None
    assert split.sizes() == {"train": 16, "valid": 0, "test": 4}


def test_ratios_too_small_for_the_users_leave_a_part_empty_and_are_refused():
    # RecBole's rule gives a 1-interaction user nothing to hold out: test would be empty
    graph = _graph([1, 1, 1])
    with pytest.raises(ValueError, match=r"leave the test part empty.*most any user has is 1"):
        random_split(graph, (0.8, 0.0, 0.2))
    with pytest.raises(ValueError, match=r"leave the validation part empty"):
        random_split(graph, (0.8, 0.1, 0.1))
    with pytest.raises(ValueError, match="no interactions"):
        random_split(build_interaction_graph([], []))


def test_leave_one_out_and_holdout_refuse_empty_parts():
    with pytest.raises(ValueError, match="no user has that many"):
        leave_one_out(_graph([2, 1]))
    split = fixed_split(_graph([6, 6]), (torch.tensor([0, 1]), torch.tensor([0, 0])),
                        (torch.tensor([0, 1]), torch.tensor([1, 1])))
    # one training interaction per user: none can go to validation
    with pytest.raises(ValueError, match="leave the validation part empty"):
        holdout_validation(split, 0.1)
    for ratio in (0.0, 1.0, -0.1, float("inf")):
        with pytest.raises(ValueError, match=r"ratio must be a finite number in \(0, 1\)"):
            holdout_validation(split, ratio)
    with pytest.raises(ValueError, match="test part has no pairs"):
        fixed_split(_graph([6]), (torch.tensor([0]), torch.tensor([0])),
                    (torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)))
