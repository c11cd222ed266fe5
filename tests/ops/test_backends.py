import pytest
import torch
from torch_geometric.nn import LGConv

import graphrec.ops.backends as backends_module
from graphrec.models.lightgcn import bipartite_edge_index
from graphrec.nn import LightGCNConv
from graphrec.ops import (
    SparseOperator,
    SpMMBackend,
    available_backends,
    backend_names,
    backend_timings,
    get_backend,
    is_available,
    select_backend,
    set_backend,
)
from graphrec.ops.csr import csr_from_coo, csr_transpose

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
BACKENDS = available_backends("cpu", torch.float32)


@pytest.fixture(autouse=True)
def _no_forced_backend(monkeypatch):
    monkeypatch.delenv("GRAPHREC_BACKEND", raising=False)
    previous = set_backend(None)
    yield
    set_backend(previous)


def _graph(num_users=7, num_items=9, num_pairs=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pairs = torch.stack([torch.randint(0, num_users, (num_pairs,), generator=generator),
                         torch.randint(0, num_items - 1, (num_pairs,), generator=generator)])
    pairs = pairs.unique(dim=1)  # last item isolated
    return bipartite_edge_index(pairs, num_users), num_users + num_items


def _run(operator, x, upstream, backend):
    x = x.detach().clone().requires_grad_()
    out = operator.matmul(operator.matmul(x, backend), backend)  # two layers
    (out * upstream).sum().backward()
    return out.detach(), x.grad


def test_registry_lists_the_four_paths_and_torch_sparse_only_when_installed():
    assert {"csr", "csr_reduce", "edge_index", "message_passing", "torch_sparse"} <= set(
        backend_names())
    assert {"csr", "csr_reduce", "edge_index", "message_passing"} <= set(BACKENDS)
    import torch_geometric.typing

    assert ("torch_sparse" in BACKENDS) == bool(torch_geometric.typing.WITH_TORCH_SPARSE)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("normalize, directed", [
    ("sym", False), ("row", False), ("none", False), ("row", True)])
def test_backends_agree_in_values_and_gradients(device, normalize, directed):
    edge_index, num_nodes = _graph()
    generator = torch.Generator().manual_seed(1)
    weight = torch.rand(edge_index.size(1) // 2, generator=generator) + 0.5
    weight = torch.cat([weight, weight])  # the same weight in both directions
    if directed:
        edge_index, weight = edge_index[:, ::2], weight[::2]
    operator = SparseOperator.from_edge_index(edge_index.to(device), num_nodes,
                                              weight.to(device), normalize)
    assert operator.symmetric == (normalize != "row" and not directed)
    x = torch.randn(num_nodes, 5, generator=generator).to(device)
    upstream = torch.randn(num_nodes, 5, generator=generator).to(device)
    dense = operator.to_dense().double()
    ref_x = x.double().requires_grad_()
    ref_out = dense @ (dense @ ref_x)
    (ref_out * upstream.double()).sum().backward()
    for backend in available_backends(device, torch.float32):
        out, grad = _run(operator, x, upstream, backend)
        assert (out.double() - ref_out.detach()).abs().max() <= 1e-5, backend
        assert (grad.double() - ref_x.grad).abs().max() <= 1e-5, backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_rectangular_operator_and_its_transpose(backend):
    edge_index = torch.tensor([[0, 1, 1, 3], [0, 0, 2, 2]])  # 4 sources, 3 targets
    operator = SparseOperator.from_edge_index(edge_index, (4, 3), normalize="row")
    expected = torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 0, 0], [0, 0.5, 0, 0.5]])
    x = torch.randn(4, 2, requires_grad=True)
    out = operator.matmul(x, backend)
    assert out.shape == (3, 2)
    assert torch.allclose(out, expected @ x, atol=1e-6)
    out.sum().backward()
    assert torch.allclose(x.grad, expected.t() @ torch.ones(3, 2), atol=1e-6)
    assert torch.allclose(operator.t().matmul(torch.ones(3), backend), expected.t().sum(1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck_and_double_backward_float64(backend):
    edge_index, num_nodes = _graph(2, 4, 5)
    operator = SparseOperator.from_edge_index(edge_index, num_nodes, normalize="row")
    x = torch.randn(num_nodes, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: operator.matmul(t, backend), (x,))
    assert torch.autograd.gradgradcheck(lambda t: operator.matmul(t, backend).pow(2), (x,))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_on_cpu(dtype):
    supported = available_backends("cpu", dtype)
    # MKL has no half-precision SpMM; PyTorch's native CSR kernel and the scatter path do
    assert "csr" not in supported
    assert {"csr_reduce", "message_passing"} <= set(supported)
    assert select_backend("cpu", dtype) in supported
    edge_index, num_nodes = _graph()
    operator = SparseOperator.from_edge_index(edge_index, num_nodes)
    x = torch.randn(num_nodes, 8)
    reference = operator.matmul(x, "csr_reduce")
    for backend in supported + [None]:
        x_half = x.to(dtype).requires_grad_()
        out = operator.matmul(x_half, backend)
        assert out.dtype == dtype
        assert torch.allclose(out.float(), reference, atol=3e-2, rtol=3e-2), backend
        out.float().sum().backward()
        assert x_half.grad.dtype == dtype
    with pytest.raises(RuntimeError, match="not available"):
        operator.matmul(x.to(dtype), "csr")
    layer = LightGCNConv()(x.to(dtype), edge_index)  # the layer runs in half precision too
    assert layer.dtype == dtype
    assert torch.allclose(layer.float(), reference, atol=3e-2, rtol=3e-2)


def test_automatic_choice_is_an_available_backend_and_measured():
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        chosen = select_backend("cpu", dtype)
        assert chosen in available_backends("cpu", dtype)
        timings = backend_timings("cpu", dtype)
        assert chosen in timings
        assert set(timings) <= set(available_backends("cpu", dtype))
        assert all(seconds > 0 for seconds in timings.values())
        assert select_backend("cpu", dtype) == chosen  # remembered, not re-measured


class _Spy(SpMMBackend):
    name = "spy"

    def __init__(self):
        self.calls = 0

    def prepare(self, matrix):
        return matrix

    def spmm(self, handle, x):
        self.calls += 1
        return torch.sparse.mm(handle, x)


@pytest.fixture
def spy(monkeypatch):
    select_backend("cpu", torch.float32)  # the automatic choice is made without the spy
    backend = _Spy()
    monkeypatch.setitem(backends_module._REGISTRY, "spy", backend)
    monkeypatch.setattr(backends_module, "_AVAILABLE", dict(backends_module._AVAILABLE))
    assert is_available("spy")
    backend.calls = 0
    return backend


def test_forcing_globally_per_call_and_by_environment(spy, monkeypatch):
    edge_index, num_nodes = _graph()
    operator = SparseOperator.from_edge_index(edge_index, num_nodes)
    x = torch.randn(num_nodes, 3, requires_grad=True)
    operator.matmul(x, backend="spy").sum().backward()
    assert spy.calls == 2  # forward and backward on the same backend
    assert set_backend("spy") is None
    assert get_backend() == "spy" and select_backend() == "spy"
    operator.matmul(x)
    assert spy.calls == 3
    assert set_backend("auto") == "spy"
    assert get_backend() is None and select_backend() in BACKENDS
    monkeypatch.setenv("GRAPHREC_BACKEND", "spy")
    assert select_backend() == "spy"
    assert select_backend(backend="csr") == "csr"  # an explicit choice wins
    with pytest.raises(ValueError, match="unknown backend"):
        set_backend("no_such_backend")
    with pytest.raises(ValueError, match="unknown backend"):
        operator.matmul(x, backend="no_such_backend")


def test_layer_backend_forcing_and_agreement_with_pyg_lgconv(spy):
    edge_index, num_nodes = _graph()
    x = torch.randn(num_nodes, 4, requires_grad=True)
    upstream = torch.randn(num_nodes, 4)
    x_ref = x.detach().clone().requires_grad_()
    ref = LGConv()(LGConv()(x_ref, edge_index), edge_index)
    (ref * upstream).sum().backward()
    for backend in ["spmm", *BACKENDS, "spy"]:
        conv = LightGCNConv(backend=backend)
        x.grad = None
        out = conv(conv(x, edge_index), edge_index)
        (out * upstream).sum().backward()
        assert (out - ref).abs().max() <= 1e-5, backend
        assert (x.grad - x_ref.grad).abs().max() <= 1e-5, backend
    assert spy.calls == 4  # 2 layers forward + 2 backward
    with pytest.raises(ValueError, match="backend must be one of"):
        LightGCNConv(backend="no_such_backend")


def test_layer_gradient_reaches_edge_weight_with_every_backend():
    edge_index, num_nodes = _graph()
    x = torch.randn(num_nodes, 3)
    grads = []
    for backend in ["spmm", "message_passing"]:
        weight = (torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(2))
                  + 0.5).requires_grad_()
        LightGCNConv(backend=backend)(x, edge_index, weight).pow(2).sum().backward()
        grads.append(weight.grad)
    assert grads[0] is not None and grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1])


def test_operator_caches_converted_forms_per_backend_and_dtype():
    edge_index, num_nodes = _graph()
    operator = SparseOperator.from_edge_index(edge_index, num_nodes, normalize="row")
    first = operator.handles("message_passing", torch.device("cpu"), torch.float32)
    assert operator.handles("message_passing", torch.device("cpu"), torch.float32) is first
    handle, handle_t = operator.handles("csr", torch.device("cpu"), torch.float64)
    assert handle.dtype == torch.float64 and handle is not handle_t  # row: not symmetric
    sym = SparseOperator.from_edge_index(edge_index, num_nodes)
    handle, handle_t = sym.handles("csr", torch.device("cpu"), torch.float32)
    assert handle is handle_t  # symmetric: the transpose is the matrix itself
    assert sym.matrix.crow_indices().dtype == torch.int32


def test_csr_builder_sums_duplicates_and_transposes():
    rows = torch.tensor([2, 0, 2, 1, 0, 2])
    cols = torch.tensor([1, 3, 1, 0, 0, 2])
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    csr = csr_from_coo(rows, cols, values, (4, 5))
    dense = torch.zeros(4, 5).index_put_((rows, cols), values, accumulate=True)
    assert torch.equal(csr.to_dense(), dense)
    assert csr.values().numel() == 5 and csr.crow_indices().dtype == torch.int32
    assert torch.equal(csr_transpose(csr).to_dense(), dense.t())


@pytest.mark.skipif(not is_available("torch_sparse"), reason="torch-sparse is not installed")
def test_torch_sparse_backend_matches_csr():
    edge_index, num_nodes = _graph()
    operator = SparseOperator.from_edge_index(edge_index, num_nodes, normalize="row")
    x = torch.randn(num_nodes, 4)
    upstream = torch.randn(num_nodes, 4)
    out, grad = _run(operator, x, upstream, "torch_sparse")
    ref_out, ref_grad = _run(operator, x, upstream, "csr")
    assert (out - ref_out).abs().max() <= 1e-5 and (grad - ref_grad).abs().max() <= 1e-5
