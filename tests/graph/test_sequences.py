"""Sequences from the interaction graph, leave-one-out order and the sequence loaders."""
from __future__ import annotations

import re

import pytest
import torch

from graphrec.data import DataFormatError, load_dataset, load_delimited, load_sequence_lines
from graphrec.graph import build_interaction_graph, leave_one_out
from graphrec.graph.interactions import Interactions
from graphrec.graph.sequences import PADDING, Sequences


def _graph():
    # user a: items x(t=5) y(t=1) z(t=5) -> y, x, z (x before z: file order at equal time)
    # user b: items z(t=2) w(t=3) x(t=1) v(t=9) -> x, z, w, v
    users = ["a", "a", "a", "b", "b", "b", "b"]
    items = ["x", "y", "z", "z", "w", "x", "v"]
    times = [5, 1, 5, 2, 3, 1, 9]
    return build_interaction_graph(users, items, times=times, keep_order=True)


def _names(graph, sequences, user):
    row = sequences.items[sequences.indptr[user]:sequences.indptr[user + 1]]
    return graph["item"].id_map.raw(row)


def test_sequences_order_by_time_then_file_order():
    graph = _graph()
    sequences = Sequences.from_interactions(Interactions.from_graph(graph))
    assert _names(graph, sequences, 0) == ["y", "x", "z"]
    assert _names(graph, sequences, 1) == ["x", "z", "w", "v"]
    assert sequences.lengths().tolist() == [3, 4]


def test_leave_one_out_ties_follow_file_order_and_parts_merge_back():
    graph = _graph()
    split = leave_one_out(graph)
    item = graph["item"].id_map
    test = Interactions.from_graph(split.test)
    valid = Interactions.from_graph(split.valid)
    # user a: y, x, z -> valid x, test z (file order breaks the x/z tie)
    assert item.raw(test.indices.tolist()) == ["z", "v"]
    assert item.raw(valid.indices.tolist()) == ["x", "w"]
    parts = [Interactions.from_graph(split.train), valid]
    merged = Sequences.from_interactions(parts)
    assert _names(graph, merged, 0) == ["y", "x"]
    assert _names(graph, merged, 1) == ["x", "z", "w"]


def test_window_left_pads_and_drops_last():
    graph = _graph()
    sequences = Sequences.from_interactions(Interactions.from_graph(graph))
    idx = {name: i for i, name in enumerate(graph["item"].id_map.raw_ids)}
    users = torch.tensor([0, 1])
    window = sequences.window(users, 3)
    assert window.tolist() == [[idx["y"], idx["x"], idx["z"]], [idx["z"], idx["w"], idx["v"]]]
    window = sequences.window(users, 5, drop_last=1)
    assert window.tolist() == [[PADDING, PADDING, PADDING, idx["y"], idx["x"]],
                               [PADDING, PADDING, idx["x"], idx["z"], idx["w"]]]


def test_scaled_times_are_personalised():
    graph = _graph()
    sequences = Sequences.from_interactions(Interactions.from_graph(graph))
    # a: times 1, 5, 5 -> smallest non-zero gap 4 -> steps 0, 1, 1
    # b: times 1, 2, 3, 9 -> gap 1 -> steps 0, 1, 2, 8
    assert sequences.scaled_times().tolist() == [0, 1, 1, 0, 1, 2, 8]


def test_sequences_need_times():
    graph = build_interaction_graph([0, 0], [1, 2])
    with pytest.raises(ValueError, match="timestamps"):
        Sequences.from_interactions(Interactions.from_graph(graph))


def test_sequence_lines_loader(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_text("1 10 11 12\n2 11 13\n\n3 12 10 13 11\n")
    dataset = load_sequence_lines(path)
    graph = dataset.graph
    assert dataset.summary()["num_interactions"] == 9
    sequences = Sequences.from_interactions(Interactions.from_graph(graph))
    user = graph["user"].id_map.index([3])[0]
    assert _names(graph, sequences, user) == [12, 10, 13, 11]
    split = leave_one_out(graph)
    # user 2 has 2 items: too few to hold out, all in training
    assert split.sizes() == {"train": 5, "valid": 2, "test": 2}


@pytest.mark.parametrize("text, line, problem", [
    ("1 10 11\n2\n", 2, "at least one item"),
    ("1 10 11\n2 3\n1 12\n", 3, "already has a line (line 1)"),
])
def test_sequence_lines_errors(tmp_path, text, line, problem):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=rf"bad.txt, line {line}: .*{re.escape(problem)}"):
        load_sequence_lines(path)


def test_interaction_lines_loader_keeps_file_order(tmp_path):
    path = tmp_path / "inter.txt"
    path.write_text("u1 b\nu2 a\nu1 a\nu1 c\nu2 b\n")
    graph = load_delimited(path, delimiter=None, in_time_order=True).graph
    sequences = Sequences.from_interactions(Interactions.from_graph(graph))
    assert _names(graph, sequences, 0) == ["b", "a", "c"]
    path.write_text("u1 b 7\nu1 a 7\nu1 c 3\n")
    graph = load_dataset("sequence-file", path=path, format="interactions",
                         has_time=True).graph
    sequences = Sequences.from_interactions(Interactions.from_graph(graph))
    assert _names(graph, sequences, 0) == ["c", "b", "a"]


@pytest.mark.realdata
def test_lastfm_tags_are_first_tagging_sequences(data_root, lastfm):
    tags = load_dataset("lastfm-tags", root=data_root)
    tagged = lastfm.graph["user", "tagged", "item"]
    num_items = lastfm.graph["item"].num_nodes
    pairs = torch.unique(tagged.edge_index[0] * num_items + tagged.edge_index[1])
    assert tags.summary()["num_users"] == lastfm.summary()["num_users"]
    assert tags.summary()["num_interactions"] == pairs.numel()
    sequences = Sequences.from_interactions(Interactions.from_graph(tags.graph))
    user = int(torch.argmax(sequences.lengths()))
    row = slice(int(sequences.indptr[user]), int(sequences.indptr[user + 1]))
    times = sequences.times[row]
    assert bool((times[1:] >= times[:-1]).all())
    # each artist's time is the user's first tagging day of it
    mine = tagged.edge_index[0] == user
    for item, time in zip(sequences.items[row][:20].tolist(), times[:20].tolist(), strict=True):
        assert time == int(tagged.time[mine & (tagged.edge_index[1] == item)].min())


@pytest.mark.realdata
def test_beauty(data_root):
    beauty = load_dataset("beauty", root=data_root)
    assert beauty.summary()["num_users"] == 22363
    assert beauty.summary()["num_items"] == 12101
    assert beauty.summary()["num_interactions"] == 198502
    split = leave_one_out(beauty.graph)
    assert split.sizes()["test"] == 22363
    # first line of Beauty.txt: "1 1 2 3 4 5" -> test 5, valid 4
    graph = beauty.graph
    user = int(graph["user"].id_map.index([1])[0])
    test = Interactions.from_graph(split.test)
    assert graph["item"].id_map.raw(test.indices[test.users == user].tolist()) == [5]
