import pytest
import torch
from scipy.stats import chisquare

from graphrec.graph.build import INTERACTS, ITEM, REV_INTERACTS, USER, build_interaction_graph
from graphrec.sampling import (
    MetapathWalker,
    VisitCounts,
    WalkGraph,
    metapath_walks,
    random_walks,
    top_visited,
    visit_counts,
)

P_MIN = 1e-3  # chi-square tests pass when the p-value is above this


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_graph(num_nodes=30, num_edges=150, seed=0, weighted=True):
    generator = _gen(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=generator)
    weight = torch.rand(num_edges, generator=generator) + 0.1 if weighted else None
    return WalkGraph.from_edge_index(edge_index, num_nodes, weight)


def _undirected(pairs, weights=None):
    edge_index = torch.tensor(pairs).t()
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    if weights is not None:
        weights = torch.tensor(weights, dtype=torch.float64)
        weights = torch.cat([weights, weights])
    return edge_index, weights


def _counts(values: torch.Tensor, support: list[int]) -> list[int]:
    return [int((values == node).sum()) for node in support]


# ------------------------------------------------------------------------------ WalkGraph
def test_walk_graph_sorts_rows_and_merges_duplicates():
    edge_index = torch.tensor([[2, 0, 0, 2, 0, 1], [1, 3, 1, 1, 3, 0]], dtype=torch.int32)
    graph = WalkGraph.from_edge_index(edge_index, 4, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 0.5]))
    assert graph.indptr.tolist() == [0, 2, 3, 4, 4]
    assert graph.indices.tolist() == [1, 3, 0, 1]
    assert graph.indptr.dtype == graph.indices.dtype == torch.long
    assert graph.out_degree.tolist() == [2, 1, 1, 0]
    assert graph.weights.tolist() == [3.0, 7.0, 0.5, 5.0]  # (0,3) and (2,1) merged: summed
    assert graph.cum_weights.tolist() == [3.0, 10.0, 10.5, 15.5]
    assert graph.row_start_weight[:3].tolist() == [0.0, 10.0, 10.5]
    assert graph.row_weight.tolist() == [10.0, 0.5, 5.0, 0.0]
    assert graph.last_positive.tolist() == [1, 2, 3, -1]
    assert graph.keys.tolist() == sorted(graph.keys.tolist())
    assert graph.edge_index.tolist() == [[0, 0, 1, 2], [1, 3, 0, 1]]
    assert graph.to("cpu") is graph


def test_from_bipartite_links_users_and_offset_items_both_ways():
    pairs = torch.tensor([[0, 0, 1], [0, 2, 2]])
    graph = WalkGraph.from_bipartite(pairs, num_users=2, num_items=3,
                                     edge_weight=torch.tensor([1.0, 2.0, 3.0]))
    assert graph.num_nodes == 5 and graph.num_edges == 6
    dense = torch.zeros(5, 5, dtype=torch.float64)
    dense[graph.edge_index[0], graph.edge_index[1]] = graph.weights
    expected = torch.zeros(5, 5, dtype=torch.float64)
    expected[0, 2], expected[0, 4], expected[1, 4] = 1.0, 2.0, 3.0
    assert torch.equal(dense, expected + expected.t())


def test_has_edge_matches_dense_adjacency():
    graph = _random_graph(20, 80, seed=3)
    dense = torch.zeros(20, 20, dtype=torch.bool)
    dense[graph.edge_index[0], graph.edge_index[1]] = True
    src, dst = torch.meshgrid(torch.arange(20), torch.arange(20), indexing="ij")
    assert torch.equal(graph.has_edge(src, dst), dense)
    outside = graph.has_edge(torch.tensor([-1, 0, 20, 3]), torch.tensor([0, -1, 0, 20]))
    assert not outside.any()


# ------------------------------------------------------------------- walks follow edges
WALK_KINDS = {
    "uniform": {},
    "weighted": {"weighted": True},
    "node2vec": {"p": 0.5, "q": 2.0},
    "node2vec_weighted": {"p": 4.0, "q": 0.25, "weighted": True},
    "restart": {"restart_prob": 0.3},
}


@pytest.mark.parametrize("kind", list(WALK_KINDS))
def test_every_step_is_an_edge_and_ids_stay_in_range(kind):
    # random edges on nodes 0..29, plus node 30 reachable only as a dead end, 31 isolated
    generator = _gen(1)
    edge_index = torch.cat([torch.randint(0, 30, (2, 90), generator=generator),
                            torch.tensor([[0, 7, 19], [30, 30, 30]])], 1)
    weight = torch.rand(93, generator=generator) + 0.1
    graph = WalkGraph.from_edge_index(edge_index, 32, weight)
    start = torch.arange(32).repeat(20)
    walks = random_walks(graph, start, 12, generator=_gen(2), **WALK_KINDS[kind])
    assert walks.shape == (640, 13) and walks.dtype == torch.long
    assert torch.equal(walks[:, 0], start)
    assert bool(((walks >= -1) & (walks < 32)).all())
    src, dst = walks[:, :-1], walks[:, 1:]
    moved = (src >= 0) & (dst >= 0)
    ok = graph.has_edge(src, dst)
    if kind == "restart":
        ok |= dst == start.unsqueeze(1)
    assert bool(ok[moved].all())
    assert not bool(((src < 0) & (dst >= 0)).any())  # -1 is absorbing
    assert bool((walks[:, 1:] < 0).any())  # the graph does have dead ends


# --------------------------------------------------------------- transition frequencies
def _star_graph():
    """Node 2 points to 0, 1, 3, 4, 5 with weights 1, 2, 3, 4, 0; other rows keep the
    global cumulative sum busy before and after row 2."""
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 2, 2, 2, 3, 4, 5, 5],
                               [1, 2, 0, 0, 1, 3, 4, 5, 2, 2, 2, 0]])
    weight = torch.tensor([5.0, 1.0, 7.0, 1.0, 2.0, 3.0, 4.0, 0.0, 2.0, 2.0, 1.0, 9.0])
    return WalkGraph.from_edge_index(edge_index, 6, weight)


def test_weighted_first_steps_follow_edge_weights():
    graph = _star_graph()
    walks = random_walks(graph, torch.full((20000,), 2), 1, weighted=True, generator=_gen(0))
    observed = _counts(walks[:, 1], [0, 1, 3, 4])
    assert int((walks[:, 1] == 5).sum()) == 0  # zero-weight edge: never taken
    expected = [20000 * w / 10 for w in (1, 2, 3, 4)]
    assert chisquare(observed, expected).pvalue > P_MIN


def test_uniform_first_steps_are_one_over_degree():
    graph = _star_graph()
    walks = random_walks(graph, torch.full((20000,), 2), 1, generator=_gen(1))
    observed = _counts(walks[:, 1], [0, 1, 3, 4, 5])
    assert sum(observed) == 20000
    assert chisquare(observed, [4000] * 5).pvalue > P_MIN


def test_weighted_step_never_lands_outside_the_row_under_rounding():
    # rows 0 and 2 dwarf row 1 (weights 1e-3 and 0): C_{<1} + u W_1 rounds badly in float64
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    weight = torch.tensor([1e15, 1e-3, 0.0, 1e15], dtype=torch.float64)
    graph = WalkGraph.from_edge_index(edge_index, 3, weight)
    walks = random_walks(graph, torch.full((5000,), 1), 1, weighted=True, generator=_gen(0))
    assert bool((walks[:, 1] == 0).all())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("p, q", [(0.5, 2.0), (4.0, 0.25)])
def test_node2vec_bias_matches_return_stay_away_ratios(p, q, weighted):
    # a=0 (previous), c=1 (current), b=2 (neighbour of both), f=3 (only next to c)
    edge_index, weight = _undirected([(0, 1), (0, 2), (1, 2), (1, 3)], [1.0, 1.0, 2.0, 3.0])
    graph = WalkGraph.from_edge_index(edge_index, 4, weight)
    walks = random_walks(graph, torch.zeros(24000, dtype=torch.long), 2, p=p, q=q,
                         weighted=weighted, generator=_gen(7))
    second = walks[walks[:, 1] == 1, 2]  # walkers that went a -> c
    observed = _counts(second, [0, 2, 3])
    assert sum(observed) == second.numel() > 8000
    w = (1.0, 2.0, 3.0) if weighted else (1.0, 1.0, 1.0)
    unnormalised = [w[0] / p, w[1] * 1.0, w[2] / q]
    expected = [second.numel() * x / sum(unnormalised) for x in unnormalised]
    assert chisquare(observed, expected).pvalue > P_MIN


def test_node2vec_rejection_cap_of_one_round_is_first_order():
    edge_index, _ = _undirected([(0, 1), (0, 2), (1, 2), (1, 3)])
    graph = WalkGraph.from_edge_index(edge_index, 4)
    walks = random_walks(graph, torch.zeros(24000, dtype=torch.long), 2, p=4.0, q=0.25,
                         max_rounds=1, generator=_gen(3))
    second = walks[walks[:, 1] == 1, 2]
    assert chisquare(_counts(second, [0, 2, 3])).pvalue > P_MIN  # uniform: no bias left


# ------------------------------------------------------------------------------ restart
def test_restart_probability_one_always_returns_to_start():
    graph = _random_graph(15, 60, seed=4)
    start = torch.arange(15).repeat(3)
    walks = random_walks(graph, start, 6, restart_prob=1.0, p=2.0, generator=_gen(0))
    assert torch.equal(walks, start.unsqueeze(1).expand(-1, 7))


def test_step_after_a_restart_is_first_order():
    # no edge enters 0, so a walker at 0 after step 0 got there by a restart; its previous
    # position (1, 2 or 3) must not bias the next step (q = 0.1 would favour 2 tenfold)
    edge_index = torch.tensor([[0, 0, 1, 2, 3], [1, 2, 3, 3, 1]])
    graph = WalkGraph.from_edge_index(edge_index, 4)
    walks = random_walks(graph, torch.zeros(4000, dtype=torch.long), 8, q=0.1,
                         restart_prob=0.5, generator=_gen(2))
    after = walks[:, 2:][(walks[:, 1:-1] == 0) & (walks[:, 2:] > 0)]
    assert after.numel() > 4000
    assert chisquare(_counts(after, [1, 2])).pvalue > P_MIN


def _ppr_graph():
    edge_index, weight = _undirected([(0, 1), (0, 2), (1, 2), (1, 3), (2, 4), (3, 4), (4, 5),
                                      (2, 5)], [1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 1.0, 0.5])
    return WalkGraph.from_edge_index(edge_index, 6, weight)


def _exact_ppr(graph: WalkGraph, start: torch.Tensor, alpha: float, weighted: bool):
    """Dense power iteration of pi = alpha e_s + (1 - alpha) pi P."""
    n = graph.num_nodes
    adjacency = torch.zeros(n, n, dtype=torch.float64)
    values = graph.weights if weighted else torch.ones(graph.num_edges, dtype=torch.float64)
    adjacency[graph.edge_index[0], graph.edge_index[1]] = values
    transition = adjacency / adjacency.sum(1, keepdim=True)
    restart = torch.zeros(start.numel(), n, dtype=torch.float64)
    restart[torch.arange(start.numel()), start] = 1.0
    pi = restart.clone()
    for _ in range(300):
        pi = alpha * restart + (1 - alpha) * pi @ transition
    return pi


@pytest.mark.parametrize("weighted", [False, True])
def test_visit_counts_estimate_personalised_pagerank(weighted):
    graph, alpha, start = _ppr_graph(), 0.3, torch.tensor([0, 5, 3])
    exact = _exact_ppr(graph, start, alpha, weighted)
    other = _exact_ppr(graph, start, alpha, not weighted)
    assert bool(((exact - other).abs().sum(1) > 0.05).all())  # the test can tell them apart
    counts = visit_counts(graph, start, 2000, 200, alpha, weighted=weighted,
                          exclude_start=False, generator=_gen(0))
    estimate = counts.to_dense().double()
    estimate /= estimate.sum(1, keepdim=True)
    assert counts.totals().tolist() == [2000 * 200] * 3  # no dead ends: every step counted
    assert bool(((estimate - exact).abs().sum(1) < 0.015).all())


def test_visit_counts_exclude_start_and_top_visited_follow_ppr():
    graph, alpha, start = _ppr_graph(), 0.3, torch.tensor([0, 5])
    counts = visit_counts(graph, start, 2000, 100, alpha, weighted=True, generator=_gen(1))
    assert not bool((counts.node == start[counts.start_index]).any())
    dense = counts.to_dense()
    assert torch.equal(counts.to_sparse().to_dense(), dense)
    nodes, weights = top_visited(counts, 3)
    assert nodes.shape == weights.shape == (2, 3)
    assert torch.allclose(weights.sum(1), torch.ones(2))
    exact = _exact_ppr(graph, start, alpha, True)
    exact[torch.arange(2), start] = -1.0
    assert torch.equal(nodes, exact.topk(3, dim=1).indices)  # gaps here are > 0.02
    assert bool((weights[:, :-1] >= weights[:, 1:]).all())


def test_top_visited_ties_padding_and_empty_rows():
    counts = VisitCounts(start_index=torch.tensor([0, 0, 0, 0, 2]),
                         node=torch.tensor([1, 3, 4, 7, 5]),
                         count=torch.tensor([2, 5, 2, 1, 4]), num_starts=3, num_nodes=8)
    nodes, weights = top_visited(counts, 3)
    assert nodes.tolist() == [[3, 1, 4], [-1, -1, -1], [5, -1, -1]]
    assert torch.allclose(weights, torch.tensor([[5 / 9, 2 / 9, 2 / 9], [0.0, 0.0, 0.0],
                                                 [1.0, 0.0, 0.0]]))


# ---------------------------------------------------------------------------- dead ends
@pytest.mark.parametrize("kind", list(WALK_KINDS))
def test_dead_ends_and_isolated_nodes_pad_with_minus_one(kind):
    # 0 -> 1 -> 2 (no out-edge); 3 isolated; 4 -> 0 with weight 0 (a weighted dead end)
    graph = WalkGraph.from_edge_index(torch.tensor([[0, 1, 4], [1, 2, 0]]), 5,
                                      torch.tensor([1.0, 1.0, 0.0]))
    walks = random_walks(graph, torch.tensor([0, 3, 4] * 50), 5, generator=_gen(0),
                         **WALK_KINDS[kind])
    assert bool(((walks >= -1) & (walks < 5)).all())
    stopped = walks < 0
    assert torch.equal(stopped, stopped.cummax(1).values)  # once -1, always -1
    if kind != "restart":
        assert walks[0].tolist() == [0, 1, 2, -1, -1, -1]
        assert walks[1].tolist() == [3, -1, -1, -1, -1, -1]
        fourth = [4, -1, -1, -1, -1, -1] if WALK_KINDS[kind].get("weighted") else [4, 0, 1, 2,
                                                                                    -1, -1]
        assert walks[2].tolist() == fourth
    else:  # a walker at a dead end restarts (prob 0.3) or stops
        assert set(walks[1::3].unique().tolist()) == {-1, 3}


def test_empty_graph_and_zero_length():
    graph = WalkGraph.from_edge_index(torch.zeros(2, 0, dtype=torch.long), 3)
    walks = random_walks(graph, torch.tensor([0, 2]), 3, weighted=False, generator=_gen(0))
    assert walks.tolist() == [[0, -1, -1, -1], [2, -1, -1, -1]]
    assert random_walks(_star_graph(), [1, 2], 0).tolist() == [[1], [2]]


# ------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("kind", list(WALK_KINDS))
def test_same_seed_gives_identical_walks(kind):
    graph = _random_graph(40, 300, seed=5)
    start = torch.arange(40).repeat(10)
    first = random_walks(graph, start, 10, generator=_gen(11), **WALK_KINDS[kind])
    again = random_walks(graph, start, 10, generator=_gen(11), **WALK_KINDS[kind])
    other = random_walks(graph, start, 10, generator=_gen(12), **WALK_KINDS[kind])
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


# ---------------------------------------------------------------------------- metapaths
def _tiny_hetero():
    # u0: i0, i1; u1: i1, i2; u2: i3; item i4 has no user
    return build_interaction_graph([0, 0, 1, 1, 2], [0, 1, 1, 2, 3],
                                   weights=[1.0, 3.0, 1.0, 1.0, 2.0],
                                   user_ids=[0, 1, 2], item_ids=[0, 1, 2, 3, 4])


def test_metapath_walks_only_move_between_items_with_a_shared_user():
    graph = _tiny_hetero()
    interacts = torch.zeros(3, 5)
    interacts[graph[INTERACTS].edge_index[0], graph[INTERACTS].edge_index[1]] = 1.0
    shared = (interacts.t() @ interacts) > 0  # [items, items]
    start = torch.arange(5).repeat(40)
    walks = metapath_walks(graph, start, 6, generator=_gen(0))
    assert walks.shape == (200, 7)
    src, dst = walks[:, :-1], walks[:, 1:]
    moved = (src >= 0) & (dst >= 0)
    assert bool(shared[src[moved], dst[moved]].all())
    assert set(walks[start == 0].unique().tolist()) == {0, 1, 2}  # reaches i2 via i1
    assert set(walks[start == 3].unique().tolist()) == {3}
    assert bool((walks[start == 4, 1:] == -1).all())  # no user: dead end


def test_metapath_walker_reuses_graphs_and_weights_transitions():
    graph = _tiny_hetero()
    walker = MetapathWalker(graph, (REV_INTERACTS, INTERACTS))
    assert walker.node_type == ITEM and len(walker.graphs) == 2
    assert walker.graphs[0].num_nodes == 5 and walker.graphs[0].num_targets == 3
    assert walker.to("cpu") is walker
    start = torch.zeros(12000, dtype=torch.long)
    same = metapath_walks(walker, start, 2, generator=_gen(4))
    assert torch.equal(walker.walk(start, 2, generator=_gen(4)), same)
    # i0 -> u0 (its only user) -> i0 or i1 with weights 1 : 3
    walks = walker.walk(start, 1, weighted=True, generator=_gen(5))
    assert chisquare(_counts(walks[:, 1], [0, 1]), [3000, 9000]).pvalue > P_MIN


# ---------------------------------------------------------------------------- bad input
def _square():
    return WalkGraph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), 2)


BAD_INPUTS = {
    "edge_index shape": (lambda: WalkGraph.from_edge_index(torch.zeros(3, 4, dtype=torch.long),
                                                           4), r"shape \[2, E\]"),
    "float ids": (lambda: WalkGraph.from_edge_index(torch.zeros(2, 3), 4), "integer node ids"),
    "target out of range": (lambda: WalkGraph.from_edge_index(torch.tensor([[0], [4]]), 4),
                            r"targets\) holds node 4, outside \[0, 4\)"),
    "negative source": (lambda: WalkGraph.from_edge_index(torch.tensor([[-1], [0]]), 4),
                        r"sources\) holds node -1"),
    "negative weight": (lambda: WalkGraph.from_edge_index(torch.tensor([[0], [1]]), 2,
                                                          torch.tensor([-0.5])), "non-negative"),
    "nan weight": (lambda: WalkGraph.from_edge_index(torch.tensor([[0], [1]]), 2,
                                                     torch.tensor([float("nan")])), "NaN"),
    "weight shape": (lambda: WalkGraph.from_edge_index(torch.tensor([[0], [1]]), 2,
                                                       torch.ones(2)), r"shape \[E\] = \[1\]"),
    "num_nodes": (lambda: WalkGraph.from_edge_index(torch.tensor([[0], [1]]), -2), "num_nodes"),
    "bipartite item": (lambda: WalkGraph.from_bipartite(torch.tensor([[0], [3]]), 1, 3),
                       r"items\) holds node 3"),
    "start out of range": (lambda: random_walks(_square(), [0, 2], 3), "start holds node 2"),
    "float start": (lambda: random_walks(_square(), [0.5], 3), "integer node ids"),
    "negative length": (lambda: random_walks(_square(), [0], -1), "length"),
    "p zero": (lambda: random_walks(_square(), [0], 3, p=0.0), "p and q must be positive"),
    "restart prob": (lambda: random_walks(_square(), [0], 3, restart_prob=1.5), "restart_prob"),
    "max_rounds": (lambda: random_walks(_square(), [0], 3, p=2.0, max_rounds=0), "max_rounds"),
    "unweighted": (lambda: random_walks(_square(), [0], 3, weighted=True), "edge weights"),
    "rectangular": (lambda: random_walks(WalkGraph.from_edge_index(torch.tensor([[0], [2]]),
                                                                   (1, 3)), [0], 2), "square"),
    "num_walks": (lambda: visit_counts(_square(), [0], 0, 3, 0.2), "num_walks"),
    "top k": (lambda: top_visited(visit_counts(_square(), [0], 2, 3, 0.2), 0), "k must"),
    "metapath cycle": (lambda: MetapathWalker(_tiny_hetero(), (REV_INTERACTS,)), "cycle"),
    "metapath type": (lambda: MetapathWalker(_tiny_hetero(), ((USER, "follows", USER),)),
                      "not in the graph"),
    "metapath weights": (lambda: MetapathWalker(build_interaction_graph([0], [0])).walk(
        [0], 2, weighted=True), "edge_weight"),
    "metapath start": (lambda: metapath_walks(_tiny_hetero(), [5], 2), r"start \('item'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_value_error_with_a_useful_message(case):
    call, message = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=message):
        call()
