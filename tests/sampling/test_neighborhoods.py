import pytest
import torch

from graphrec.sampling.neighborhoods import ImportanceNeighborhoods, MultiHopSampler


def star_graph():
    """Users 0..3; items 0..5. Item 0 shares users with items 1 and 2; item 3 is
    reachable from item 0 only through user 2; item 5 has no interactions."""
    pairs = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 3],
                          [0, 1, 0, 1, 2, 0, 3, 4]])
    return pairs, 4, 6


def test_weights_sum_to_one_and_no_self_neighbor():
    pairs, num_users, num_items = star_graph()
    nb = ImportanceNeighborhoods(pairs, num_users, num_items, num_neighbors=3, num_walks=200,
                                 walk_length=4, restart_prob=0.3)
    neighbors, weights = nb.table()
    assert neighbors.shape == weights.shape == (num_items, 3)
    items = torch.arange(num_items).unsqueeze(1)
    assert not bool((neighbors == items).any())  # never its own neighbour
    assert bool(((neighbors < 0) == (weights == 0)).all())  # padding has weight 0
    nonempty = (neighbors >= 0).any(1)
    torch.testing.assert_close(weights[nonempty].sum(1), torch.ones(int(nonempty.sum())))
    # padding comes last and weights are non-increasing
    assert bool((weights[:, 1:] <= weights[:, :-1]).all())
    # item 5 (no interactions) and item 4 (its user has no other item) have no neighbours
    assert bool((neighbors[4:] == -1).all())
    # neighbours are items reachable through users: item 0 reaches 1, 2 (users 0, 1) and 3
    assert set(neighbors[0].tolist()) == {1, 2, 3}
    # visit-count ranks: item 1 shares two users with item 0, item 3 one user of degree 2
    assert neighbors[0, 0].item() == 1


def test_seeded_determinism():
    pairs, num_users, num_items = star_graph()
    kwargs = dict(num_neighbors=3, num_walks=50, walk_length=4, seed=7)
    a = ImportanceNeighborhoods(pairs, num_users, num_items, **kwargs).table()
    b = ImportanceNeighborhoods(pairs, num_users, num_items, **kwargs).table()
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    gen = torch.Generator().manual_seed(3)
    c = ImportanceNeighborhoods(pairs, num_users, num_items, **kwargs).sample([0, 1], gen)
    gen = torch.Generator().manual_seed(3)
    d = ImportanceNeighborhoods(pairs, num_users, num_items, **kwargs).sample([0, 1], gen)
    assert torch.equal(c[1], d[1])


def test_weights_match_visit_frequencies():
    """Two items sharing one user with item 0, one of them through a second user too: with
    restart 1 after the first hop (walk_length 2) the visit shares are exactly the item's
    share of 2-step walks: P(0 -> u -> v)."""
    pairs = torch.tensor([[0, 0, 0, 1, 1],
                          [0, 1, 2, 0, 1]])
    nb = ImportanceNeighborhoods(pairs, 2, 3, num_neighbors=2, num_walks=20000, walk_length=2,
                                 restart_prob=0.0)
    neighbors, weights = nb.sample([0])
    # from item 0: user 0 (1/2) then item 1 or 2 (or back to 0) each 1/3; user 1 (1/2) then
    # item 1 (1/2). P(1) = 1/6 + 1/4 = 5/12, P(2) = 1/6; normalised over {1, 2}: 5/7, 2/7
    assert neighbors[0].tolist() == [1, 2]
    torch.testing.assert_close(weights[0], torch.tensor([5 / 7, 2 / 7]), atol=0.02, rtol=0)


def test_excluded_positive_edges_do_not_leak():
    pairs, num_users, num_items = star_graph()
    # positive (user 2, item 3): item 3 is item 0's neighbour only through user 2
    full = ImportanceNeighborhoods(pairs, num_users, num_items, num_neighbors=4,
                                   num_walks=200, walk_length=4)
    assert 3 in full.table()[0][0].tolist()
    held = ImportanceNeighborhoods(pairs, num_users, num_items, num_neighbors=4,
                                   num_walks=200, walk_length=4,
                                   exclude=torch.tensor([[2], [3]]))
    neighbors = held.table()[0]
    assert 3 not in neighbors[0].tolist()
    assert bool((neighbors[3] == -1).all())  # item 3 lost its only interaction
    assert not bool(held.graph.has_edge(torch.tensor([2]), torch.tensor([num_users + 3])).any())


def test_multi_hop_subgraph_matches_table():
    pairs, num_users, num_items = star_graph()
    nb = ImportanceNeighborhoods(pairs, num_users, num_items, num_neighbors=2, num_walks=100,
                                 walk_length=4)
    neighbors, weights = nb.table()
    sampler = MultiHopSampler(nb, num_layers=2)
    batch = torch.tensor([2, 0, 2])
    sub = sampler.sample(batch)
    assert torch.equal(sub.nodes[:sub.num_targets][sub.target_index], batch)
    assert len(sub.hops) == 2 and sub.hops[-1].num_dst == 2
    assert sub.hops[0].num_dst == sub.hops[1].num_src
    assert sub.hops[0].num_src == sub.nodes.numel()
    assert sub.nodes.unique().numel() == sub.nodes.numel()  # each item once
    for hop in sub.hops:
        src, dst = sub.nodes[hop.edge_index[0]], sub.nodes[hop.edge_index[1]]
        assert int(hop.edge_index[0].max()) < hop.num_src
        assert int(hop.edge_index[1].max()) < hop.num_dst
        # every edge is a table entry with its weight, and every table entry is an edge
        for s, d, w in zip(src.tolist(), dst.tolist(), hop.edge_weight.tolist(), strict=True):
            row = neighbors[d].tolist()
            assert s in row and weights[d, row.index(s)].item() == pytest.approx(w)
        expected = int((neighbors[sub.nodes[:hop.num_dst]] >= 0).sum())
        assert hop.edge_index.size(1) == expected
    full = sampler.full_graph()
    assert full.edge_index.size(1) == int((neighbors >= 0).sum())


def test_bad_input():
    pairs, num_users, num_items = star_graph()
    with pytest.raises(ValueError, match="shape"):
        ImportanceNeighborhoods(pairs[0], num_users, num_items)
    nb = ImportanceNeighborhoods(pairs, num_users, num_items)
    with pytest.raises(ValueError, match="out of range"):
        nb.sample([num_items])
    with pytest.raises(ValueError, match="num_layers"):
        MultiHopSampler(nb, 0)
