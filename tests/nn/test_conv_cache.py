"""The operator cache of LightGCNConv / SocialConv never serves another graph's operator,
and both layers take every graph form PyG users pass (edge_index, EdgeIndex, torch.sparse
adj_t, torch_sparse.SparseTensor)."""
import gc
import warnings
import weakref

import pytest
import torch
from torch.testing import assert_close
from torch_geometric import EdgeIndex
from torch_geometric.nn import LGConv
from torch_geometric.typing import SparseTensor

from graphrec.nn import LightGCNConv, SocialConv

NUM_NODES, NUM_EDGES = 200, 3000
KINDS = ["edge_index", "EdgeIndex", "sparse_csr", "sparse_coo", "sparse_csc", "SparseTensor",
         "SparseTensor_standin"]


class _StandInSparseTensor(SparseTensor):
    """The part of ``torch_sparse.SparseTensor``'s interface (>= 0.6) the layers read
    (``coo()``, ``storage.row() / col() / value()``, ``sparse_sizes()``), so that the
    SparseTensor code path runs where torch-sparse is not installed; the real class is
    tested too (kind ``"SparseTensor"``) where it is."""

    class _Storage:
        def __init__(self, row, col, value):
            self._row, self._col, self._value = row, col, value

        def row(self):
            return self._row

        def col(self):
            return self._col

        def value(self):
            return self._value

    def __init__(self, row, col, value, sparse_sizes):  # no super(): PyG's placeholder raises
        self._storage = self._Storage(row, col, value)
        self._sizes = tuple(sparse_sizes)

    @property
    def storage(self):
        return self._storage

    def coo(self):
        return self._storage.row(), self._storage.col(), self._storage.value()

    def sparse_sizes(self):
        return self._sizes


@pytest.fixture(autouse=True)
def _quiet_sparse_beta_warnings():
    with warnings.catch_warnings():  # "sparse CSR support is in beta": known
        warnings.simplefilter("ignore", UserWarning)
        yield


def _symmetric_graph(generator: torch.Generator) -> torch.Tensor:
    half = torch.randint(0, NUM_NODES, (2, NUM_EDGES // 2), generator=generator)
    return torch.cat([half, half.flip(0)], 1)


def _directed_graph(generator: torch.Generator, num_nodes: int = 60, num_edges: int = 400):
    """A directed weighted graph (so that a transposed adj_t would be caught)."""
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=generator)
    edge_weight = torch.rand(num_edges, generator=generator) + 0.1
    return edge_index, edge_weight, num_nodes


def _dense_adjacency(edge_index, num_nodes, edge_weight=None):
    """A[i, j] = sum of the weights of edges j -> i (row = target, as PyG's adj_t)."""
    weight = torch.ones(edge_index.size(1)) if edge_weight is None else edge_weight
    return torch.zeros(num_nodes, num_nodes).index_put_(
        (edge_index[1], edge_index[0]), weight.float(), accumulate=True)


def _normalised(adjacency, normalize):
    degree = adjacency.sum(1)
    if normalize == "sym":
        inv_sqrt = degree.pow(-0.5).masked_fill(degree == 0, 0.0)
        return inv_sqrt.view(-1, 1) * adjacency * inv_sqrt.view(1, -1)
    if normalize == "row":
        return degree.reciprocal().masked_fill(degree == 0, 0.0).view(-1, 1) * adjacency
    return adjacency


def _as_kind(kind, edge_index, num_nodes, edge_weight=None, weight_grad=False):
    """``(graph, edge_weight, weight_leaf)`` for one input form; the sparse forms carry the
    weights as values (transposed: row = target). ``weight_leaf``: the tensor whose
    ``.grad`` receives the weights' gradient when ``weight_grad``."""
    weight = torch.ones(edge_index.size(1)) if edge_weight is None else edge_weight
    weight = weight.detach().clone().requires_grad_(weight_grad)
    if kind == "edge_index":
        return edge_index.clone(), weight, weight
    if kind == "EdgeIndex":
        return EdgeIndex(edge_index.clone(), sparse_size=(num_nodes, num_nodes)), weight, weight
    if kind == "SparseTensor":
        torch_sparse = pytest.importorskip("torch_sparse")
        adj_t = torch_sparse.SparseTensor(row=edge_index[1], col=edge_index[0], value=weight,
                                          sparse_sizes=(num_nodes, num_nodes))
        return adj_t, None, weight
    if kind == "SparseTensor_standin":
        return _StandInSparseTensor(edge_index[1], edge_index[0], weight,
                                    (num_nodes, num_nodes)), None, weight
    coo = torch.sparse_coo_tensor(edge_index.flip(0), weight, (num_nodes, num_nodes))
    if kind == "sparse_coo":
        return coo, None, weight
    coo = coo.detach().coalesce()  # to CSR / CSC: duplicates summed, then a fresh leaf
    leaf = coo.values().clone().requires_grad_(weight_grad)
    if kind == "sparse_csr":
        csr = coo.to_sparse_csr()
        return torch.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(),
                                       leaf[_csr_order(coo)], coo.shape), None, leaf
    assert kind == "sparse_csc"
    csc = coo.to_sparse_csc()
    return torch.sparse_csc_tensor(csc.ccol_indices(), csc.row_indices(),
                                   leaf[_csc_order(coo)], coo.shape), None, leaf


def _csr_order(coo):  # coalesced COO is row-major already
    return torch.arange(coo._nnz())


def _csc_order(coo):
    rows, cols = coo.indices()
    return torch.argsort(cols * coo.size(0) + rows)


# --- 1. fresh graphs of the same shape never get a stale operator ---------------------


@pytest.mark.parametrize("kind", ["edge_index", "EdgeIndex", "sparse_csr", "sparse_coo"])
def test_lightgcn_conv_fresh_graphs_match_lgconv_every_time(kind):
    generator = torch.Generator().manual_seed(0)
    conv, reference = LightGCNConv(), LGConv()
    x = torch.randn(NUM_NODES, 16, generator=generator)
    seen_ptrs, reused = set(), 0
    for _ in range(100):
        edge_index = _symmetric_graph(generator)
        graph, _, _ = _as_kind(kind, edge_index, NUM_NODES)
        ptr = edge_index.data_ptr() if kind == "edge_index" else None
        reused += ptr in seen_ptrs
        seen_ptrs.add(ptr)
        out = conv(x, graph)
        assert_close(out, reference(x, edge_index))
        assert_close(out, _normalised(_dense_adjacency(edge_index, NUM_NODES), "sym") @ x)
        # free them (refcounting frees the storage at ``del``; a young-generation collection
        # for anything cyclic, as a full one costs 0.5 s): the allocator may hand it on
        del edge_index, graph, out
        gc.collect(0)
    if kind == "edge_index":
        # the failure mode of a data_ptr key is exercised: fresh graphs at old addresses
        assert reused > 0


def test_lightgcn_conv_fresh_edge_weights_match_lgconv_every_time():
    generator = torch.Generator().manual_seed(1)
    conv, reference = LightGCNConv(), LGConv()
    x = torch.randn(NUM_NODES, 16, generator=generator)
    edge_index = _symmetric_graph(generator)  # one graph object, fresh weights each call
    seen_ptrs, reused = set(), 0
    for _ in range(100):
        edge_weight = torch.rand(NUM_EDGES, generator=generator) + 0.1
        reused += edge_weight.data_ptr() in seen_ptrs
        seen_ptrs.add(edge_weight.data_ptr())
        out = conv(x, edge_index, edge_weight)
        assert_close(out, reference(x, edge_index, edge_weight))
        dense = _normalised(_dense_adjacency(edge_index, NUM_NODES, edge_weight), "sym")
        assert_close(out, dense @ x)
        del edge_weight, out
        gc.collect(0)
    assert reused > 0


@pytest.mark.parametrize("fresh", ["edge_index", "edge_weight"])
@pytest.mark.parametrize("normalize", ["row", "sym"])
def test_social_conv_fresh_graphs_or_weights_match_dense_every_time(normalize, fresh):
    generator = torch.Generator().manual_seed(2)
    conv = SocialConv(8, dropout=0.5, normalize=normalize).eval()
    x = torch.randn(NUM_NODES, 8, generator=generator)
    edge_index = torch.randint(0, NUM_NODES, (2, NUM_EDGES), generator=generator)
    edge_weight = None
    seen_ptrs, reused = set(), 0
    for _ in range(100):
        if fresh == "edge_index":  # a directed social graph
            edge_index = torch.randint(0, NUM_NODES, (2, NUM_EDGES), generator=generator)
            fresh_tensor = edge_index
        else:
            edge_weight = torch.rand(NUM_EDGES, generator=generator) + 0.1
            fresh_tensor = edge_weight
        reused += fresh_tensor.data_ptr() in seen_ptrs
        seen_ptrs.add(fresh_tensor.data_ptr())
        out = conv(x, edge_index, edge_weight)
        social = _normalised(_dense_adjacency(edge_index, NUM_NODES, edge_weight), normalize)
        with torch.no_grad():
            assert_close(out, x + social @ conv.lin(x))
        del fresh_tensor, out
        if fresh == "edge_index":
            del edge_index
        else:
            del edge_weight
        gc.collect(0)
    assert reused > 0


# --- 2. in-place edits, hits, identity -------------------------------------------------


def test_in_place_edits_of_the_cached_graph_are_picked_up():
    generator = torch.Generator().manual_seed(3)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    conv, reference = LightGCNConv(), LGConv()
    x = torch.randn(num_nodes, 4, generator=generator)
    conv(x, edge_index, edge_weight)
    edge_index[0, :50] = (edge_index[0, :50] + 1) % num_nodes  # same object, new graph
    assert_close(conv(x, edge_index, edge_weight), reference(x, edge_index, edge_weight))
    edge_weight[:50].mul_(5.0)  # through a view: shares the version counter
    assert_close(conv(x, edge_index, edge_weight), reference(x, edge_index, edge_weight))

    social = SocialConv(4, dropout=0.0)
    social(x, edge_index, edge_weight)
    edge_weight[-30:].add_(2.0)
    expected = _normalised(_dense_adjacency(edge_index, num_nodes, edge_weight), "row")
    with torch.no_grad():
        assert_close(social(x, edge_index, edge_weight), x + expected @ social.lin(x))


@pytest.mark.parametrize("kind", ["EdgeIndex", "sparse_csr", "sparse_coo", "SparseTensor",
                                  "SparseTensor_standin"])
def test_in_place_edits_of_a_cached_edge_index_or_adjacency_are_picked_up(kind):
    generator = torch.Generator().manual_seed(4)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    graph, weight, _ = _as_kind(kind, edge_index, num_nodes, edge_weight)
    conv = LightGCNConv(normalize="none")
    x = torch.randn(num_nodes, 4, generator=generator)
    before = conv(x, graph, weight)
    if kind == "EdgeIndex":
        graph[1, :40] = (graph[1, :40] + 3) % num_nodes  # in place on the EdgeIndex
        expected = LGConv(normalize=False)(x, graph.as_tensor(), weight)
    elif kind.startswith("SparseTensor"):
        graph.storage.value()[:40].mul_(3.0)  # the values are the edge weights
        row, col, value = graph.coo()
        expected = LGConv(normalize=False)(x, torch.stack([col, row]), value)
    else:
        values = graph.values() if kind == "sparse_csr" else graph._values()
        values[:40].mul_(3.0)  # the adjacency's values are its edge weights
        expected = LGConv(normalize=False)(x, graph)
    after = conv(x, graph, weight)
    assert not torch.allclose(before, after)
    assert_close(after, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_same_object_is_a_cache_hit_another_object_is_rebuilt(kind):
    generator = torch.Generator().manual_seed(5)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    graph, weight, _ = _as_kind(kind, edge_index, num_nodes, edge_weight)
    conv = LightGCNConv()
    x = torch.randn(num_nodes, 4, generator=generator)
    first_out = conv(x, graph, weight)
    first = conv.cache.operator
    assert first is not None
    assert_close(conv(x, graph, weight), first_out)
    assert conv.cache.operator is first  # the very same objects: not rebuilt
    copy, copy_weight, _ = _as_kind(kind, edge_index, num_nodes, edge_weight)
    assert_close(conv(x, copy, copy_weight), first_out)
    assert conv.cache.operator is not first  # equal contents, another object: rebuilt


def test_same_graph_with_another_node_count_is_rebuilt():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    conv = LightGCNConv(normalize="none")
    conv(torch.randn(3, 2), edge_index)
    first = conv.cache.operator
    x = torch.randn(5, 2)
    out = conv(x, edge_index)  # two isolated nodes more
    assert conv.cache.operator is not first and conv.cache.operator.shape == (5, 5)
    assert_close(out, _dense_adjacency(edge_index, 5) @ x)


def test_cache_holds_no_reference_and_uncached_layers_keep_nothing():
    generator = torch.Generator().manual_seed(6)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    x = torch.randn(num_nodes, 4)
    conv = LightGCNConv()
    conv(x, edge_index, edge_weight)
    graph_ref, weight_ref = weakref.ref(edge_index), weakref.ref(edge_weight)
    del edge_index, edge_weight
    gc.collect()
    assert graph_ref() is None and weight_ref() is None  # the cache keeps no graph alive
    uncached = SocialConv(4, cached=False)
    uncached(x, torch.randint(0, num_nodes, (2, 10)))
    assert uncached.cache.operator is None


def test_same_edge_index_with_another_weight_or_none_is_rebuilt():
    generator = torch.Generator().manual_seed(7)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    conv, reference = LightGCNConv(), LGConv()
    x = torch.randn(num_nodes, 4)
    assert_close(conv(x, edge_index, edge_weight), reference(x, edge_index, edge_weight))
    assert_close(conv(x, edge_index), reference(x, edge_index))
    assert_close(conv(x, edge_index, edge_weight), reference(x, edge_index, edge_weight))


def test_inference_mode_tensors_are_not_cached():
    generator = torch.Generator().manual_seed(8)
    edge_index, _, num_nodes = _directed_graph(generator)
    x = torch.randn(num_nodes, 4)
    conv = LightGCNConv()
    with torch.inference_mode():
        graph = edge_index.clone()  # an inference tensor keeps no version counter
        out = conv(x, graph)
    assert conv.cache.operator is None
    assert_close(out, LGConv()(x, edge_index))


def test_a_model_buffer_builds_the_operator_once():
    generator = torch.Generator().manual_seed(9)
    edge_index, _, num_nodes = _directed_graph(generator)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = LightGCNConv()
            self.register_buffer("edge_index", edge_index)

        def forward(self, x):
            return self.conv(self.conv(x, self.edge_index), self.edge_index)

    model = Model()
    x = torch.randn(num_nodes, 4)
    model(x)
    operator = model.conv.cache.operator
    model(x)
    assert model.conv.cache.operator is operator


# --- 3. every input form gives LGConv's numbers, with gradients ------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("normalize", ["sym", "row", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_every_input_kind_matches_lgconv_and_dense_formula(kind, normalize, weighted):
    generator = torch.Generator().manual_seed(10)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    edge_weight = edge_weight if weighted else None
    graph, weight, _ = _as_kind(kind, edge_index, num_nodes, edge_weight)
    x = torch.randn(num_nodes, 5, generator=generator)
    out = LightGCNConv(normalize=normalize)(x, graph, weight)
    dense = _normalised(_dense_adjacency(edge_index, num_nodes, edge_weight), normalize)
    assert_close(out, dense @ x)
    if normalize != "row":  # LGConv has no mean-over-neighbours variant
        reference = LGConv(normalize=normalize == "sym")
        assert_close(out, reference(x, edge_index, edge_weight))
        if kind in ("sparse_csr", "sparse_coo", "EdgeIndex"):  # PyG on the same input form
            assert_close(out, reference(x, graph, weight))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("normalize", ["row", "sym"])
def test_social_conv_every_input_kind_matches_dense(kind, normalize):
    generator = torch.Generator().manual_seed(11)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    graph, weight, _ = _as_kind(kind, edge_index, num_nodes, edge_weight)
    conv = SocialConv(6, dropout=0.0, normalize=normalize)
    x = torch.randn(num_nodes, 6, generator=generator, requires_grad=True)
    out = conv(x, graph, weight)
    social = _normalised(_dense_adjacency(edge_index, num_nodes, edge_weight), normalize)
    x_ref = x.detach().clone().requires_grad_()
    expected = x_ref + social @ conv.lin(x_ref)
    assert_close(out, expected)
    upstream = torch.randn(out.shape, generator=generator)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    assert_close(x.grad, x_ref.grad)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("normalize", ["sym", "row", "none"])
def test_gradients_for_every_input_kind(kind, normalize):
    generator = torch.Generator().manual_seed(12)
    edge_index, edge_weight, num_nodes = _directed_graph(generator)
    x = torch.randn(num_nodes, 5, generator=generator, requires_grad=True)
    upstream = torch.randn(num_nodes, 5, generator=generator)
    dense = _normalised(_dense_adjacency(edge_index, num_nodes, edge_weight), normalize)
    # constant weights: the fused operator's backward, A^T @ upstream
    graph, weight, _ = _as_kind(kind, edge_index, num_nodes, edge_weight)
    (LightGCNConv(normalize=normalize)(x, graph, weight) * upstream).sum().backward()
    assert_close(x.grad, dense.t() @ upstream)
    # weights that need a gradient (edge_weight, or the adjacency's values) get it
    x.grad = None
    graph, weight, leaf = _as_kind(kind, edge_index, num_nodes, edge_weight, weight_grad=True)
    (LightGCNConv(normalize=normalize)(x, graph, weight) * upstream).sum().backward()
    assert_close(x.grad, dense.t() @ upstream)
    if kind in ("sparse_csr", "sparse_csc"):  # one value per coalesced entry (duplicates summed)
        coalesced = torch.sparse_coo_tensor(edge_index.flip(0), edge_weight,
                                            (num_nodes, num_nodes)).coalesce()
        edge_index, edge_weight = coalesced.indices().flip(0), coalesced.values()
    ref_weight = edge_weight.clone().requires_grad_()
    ref_dense = _normalised(_dense_adjacency(edge_index, num_nodes, ref_weight), normalize)
    ((ref_dense @ x.detach()) * upstream).sum().backward()
    assert_close(leaf.grad, ref_weight.grad)


# --- 4. bad input ----------------------------------------------------------------------


def test_bad_graph_inputs_are_named():
    x = torch.randn(5, 3)
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), torch.ones(3), (5, 5))
    conv = LightGCNConv()
    with pytest.raises(ValueError, match="edge_weight must be None"):
        conv(x, adj_t, torch.ones(3))
    with pytest.raises(ValueError, match=r"\[num_nodes, num_nodes\] = \[4, 4\]"):
        conv(x[:4], adj_t)
    with pytest.raises(ValueError, match="integer tensor of shape"):
        conv(x, edge_index.float())
    with pytest.raises(ValueError, match="integer tensor of shape"):
        conv(x, edge_index.bool())
    with pytest.raises(ValueError, match="integer tensor of shape"):
        conv(x, edge_index[0])
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        conv(x[:3], edge_index)
    with pytest.raises(ValueError, match=r"edge_weight must have shape \[E\] = \[3\]"):
        conv(x, edge_index, torch.ones(4))
    with pytest.raises(ValueError, match="sparse_size"):
        conv(x, EdgeIndex(edge_index, sparse_size=(7, 7)))
    with pytest.raises(TypeError, match="edge_index must be"):
        SocialConv(3)(x, [[0, 1], [1, 0]])
