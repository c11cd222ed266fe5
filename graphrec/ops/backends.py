r"""Sparse–dense product backends, their registry, and the choice among them.

Every backend computes :math:`Y = A X` for a fixed sparse :math:`A \in
\mathbb{R}^{n_{out} \times n_{in}}` (given once, in CSR, and converted once by
:meth:`SpMMBackend.prepare` into whatever the backend multiplies with) and a dense
:math:`X \in \mathbb{R}^{n_{in} \times d}`. Autograd is not the backends' business:
:class:`~graphrec.ops.SparseOperator` wraps them in one autograd function whose backward is
the same backend's product with the cached :math:`A^\top`.

- ``csr``: ``torch.sparse.mm(A, X)``, i.e. MKL on CPU (float32, float64) and cuSPARSE on
  CUDA.
- ``csr_reduce``: ``torch.sparse.mm(A, X, "sum")``, PyTorch's native row-parallel CSR
  kernel, vectorised over :math:`d` (CPU: float32, float64, bfloat16, float16).
- ``edge_index``: PyG's :class:`~torch_geometric.EdgeIndex`, sorted by row with its CSR
  cached, multiplied by ``EdgeIndex.matmul`` (the product behind
  :func:`torch_geometric.utils.spmm`; on CPU it runs the ``csr_reduce`` kernel).
- ``torch_sparse``: ``torch_sparse.matmul`` on a ``SparseTensor`` (only when torch-sparse
  is installed).
- ``message_passing``: PyG's :class:`~torch_geometric.nn.conv.MessagePassing`
  gather–scatter, ``message`` (:math:`w_{ij} x_j`) then ``aggregate`` (scatter-sum), all
  floating dtypes; :math:`O(nnz \cdot d)` temporary memory.

Which one runs (:func:`select_backend`), in this order:

1. the ``backend=`` argument of :meth:`SparseOperator.matmul` or of a layer;
2. the global choice of :func:`set_backend`;
3. the environment variable ``GRAPHREC_BACKEND``;
4. otherwise the fastest one *measured* on this ``(device, dtype)``: the first time a
   ``(device, dtype)`` is seen, every available backend multiplies a fixed, seeded sparse
   matrix with skewed column popularity (:data:`PROBE_NODES` rows, about
   :data:`PROBE_NNZ` entries) by :data:`PROBE_DIM` columns a few times, round-robin. The
   fastest minimum time wins, and a backend within :data:`TIE_MARGIN` of it that comes
   earlier in :data:`PREFERENCE` wins ties, so that near-equal backends do not flip on
   timing noise. Force a backend for bit-identical results across processes and
   machines: backends sum in different orders (about 1e-7 relative apart). The timings
   are kept (:func:`backend_timings`); measuring takes about 0.1-0.2 s on CPU, once per
   process and ``(device, dtype)``.

A backend is *available* on a ``(device, dtype)`` when it is installed and a tiny product
there matches the dense one (checked once and remembered), so unsupported combinations
(e.g. MKL in bfloat16) are never chosen, and forcing one raises a clear error.
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing

from graphrec.ops.csr import csr_from_coo, csr_row_indices, csr_tensor, csr_to

ENV_VAR = "GRAPHREC_BACKEND"
#: tie-break order of the automatic choice (earlier wins within :data:`TIE_MARGIN`)
PREFERENCE = ("csr_reduce", "csr", "torch_sparse", "edge_index", "message_passing")
TIE_MARGIN = 0.25
PROBE_NODES = 16_384
PROBE_NNZ = 262_144
PROBE_DIM = 64
PROBE_REPEATS = 5
SKIP_FACTOR = 4.0  # a backend whose warm-up is this much slower is not timed again
AUTO_NAMES = (None, "auto", "spmm")


class SpMMBackend:
    """One way of computing ``A @ X``. Subclasses set :attr:`name` and implement
    :meth:`prepare` and :meth:`spmm`.

    :meth:`prepare` is called once per operator, device and dtype; :meth:`spmm` at every
    product, without autograd (it runs inside the operator's autograd function).
    """

    name: str = ""

    def is_installed(self) -> bool:
        """Whether the libraries the backend needs can be imported."""
        return True

    def prepare(self, matrix: Tensor) -> Any:
        """What :meth:`spmm` multiplies with, from ``matrix`` (CSR, already on the target
        device and in the target dtype)."""
        raise NotImplementedError

    def spmm(self, handle: Any, x: Tensor) -> Tensor:
        """``A @ x`` for ``x`` of shape ``[n_in, d]`` (contiguous); returns ``[n_out, d]``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(name={self.name!r})"


class TorchCSR(SpMMBackend):
    """``torch.sparse.mm`` on the CSR matrix: MKL (CPU), cuSPARSE (CUDA)."""

    name = "csr"

    def prepare(self, matrix: Tensor) -> Tensor:
        return matrix

    def spmm(self, handle: Tensor, x: Tensor) -> Tensor:
        return torch.sparse.mm(handle, x)


class TorchCSRReduce(SpMMBackend):
    """``torch.sparse.mm(A, X, "sum")``: PyTorch's own row-parallel CSR kernel (the one
    ``EdgeIndex`` uses on CPU); vectorised over ``d``, with bfloat16/float16 support."""

    name = "csr_reduce"

    def prepare(self, matrix: Tensor) -> Tensor:
        return matrix

    def spmm(self, handle: Tensor, x: Tensor) -> Tensor:
        return torch.sparse.mm(handle, x, "sum")


class PyGEdgeIndex(SpMMBackend):
    """PyG's :class:`~torch_geometric.EdgeIndex` sorted by row with its CSR cached;
    ``EdgeIndex.matmul(x, input_value=w)`` (what :func:`torch_geometric.utils.spmm` calls).
    Indices are int32 on CPU (no per-call conversion), int64 on CUDA."""

    name = "edge_index"

    def prepare(self, matrix: Tensor) -> tuple[Any, Tensor]:
        from torch_geometric import EdgeIndex

        dtype = torch.int32 if matrix.device.type == "cpu" else torch.int64
        rows = csr_row_indices(matrix).to(dtype)
        edge_index = EdgeIndex(torch.stack([rows, matrix.col_indices().to(dtype)]),
                               sparse_size=tuple(matrix.shape), sort_order="row")
        edge_index.get_csr()  # fills the row-pointer cache once
        return edge_index, matrix.values()

    def spmm(self, handle: tuple[Any, Tensor], x: Tensor) -> Tensor:
        edge_index, values = handle
        with warnings.catch_warnings():  # PyG builds its CSR view without invariant checks
            warnings.simplefilter("ignore", UserWarning)
            return edge_index.matmul(x, input_value=values)


class TorchSparse(SpMMBackend):
    """``torch_sparse.matmul`` on a ``SparseTensor`` (torch-sparse's ``spmm_sum``)."""

    name = "torch_sparse"

    def is_installed(self) -> bool:
        import torch_geometric.typing

        return bool(torch_geometric.typing.WITH_TORCH_SPARSE)

    def prepare(self, matrix: Tensor) -> Any:
        from torch_geometric.typing import SparseTensor

        return SparseTensor(rowptr=matrix.crow_indices().to(torch.int64),
                            col=matrix.col_indices().to(torch.int64), value=matrix.values(),
                            sparse_sizes=tuple(matrix.shape), is_sorted=True, trust_data=True)

    def spmm(self, handle: Any, x: Tensor) -> Tensor:
        import torch_sparse

        return torch_sparse.matmul(handle, x, reduce="sum")


class _GatherScatter(MessagePassing):
    r""":math:`y_i = \sum_{j} w_{ij} x_j` through PyG's ``propagate``: gather
    :math:`x_j`, ``message`` scales by :math:`w_{ij}`, ``aggregate`` scatter-sums."""

    def __init__(self) -> None:
        super().__init__(aggr="sum")

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor,
                size: tuple[int, int]) -> Tensor:
        return self.propagate(edge_index, x=x, edge_weight=edge_weight, size=size)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.view(-1, 1) * x_j


class PyGMessagePassing(SpMMBackend):
    """PyG's ``MessagePassing`` gather–scatter path (``message`` + ``aggregate``)."""

    name = "message_passing"

    def __init__(self) -> None:
        self._layer = _GatherScatter()

    def prepare(self, matrix: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
        # PyG convention: edge_index[0] = source j (column), edge_index[1] = target i (row)
        edge_index = torch.stack([matrix.col_indices().to(torch.int64),
                                  csr_row_indices(matrix)])
        return edge_index, matrix.values(), (int(matrix.shape[1]), int(matrix.shape[0]))

    def spmm(self, handle: tuple[Tensor, Tensor, tuple[int, int]], x: Tensor) -> Tensor:
        edge_index, values, size = handle
        return self._layer(x, edge_index, values, size)


_REGISTRY: dict[str, SpMMBackend] = {}
_AVAILABLE: dict[tuple[str, torch.device, torch.dtype], bool] = {}
_SELECTED: dict[tuple[torch.device, torch.dtype], str] = {}
_TIMINGS: dict[tuple[torch.device, torch.dtype], dict[str, float]] = {}
_FORCED: str | None = None


def register_backend(backend: SpMMBackend) -> None:
    """Adds (or replaces) a backend under ``backend.name``; clears remembered choices."""
    if not backend.name:
        raise ValueError("a backend needs a name")
    _REGISTRY[backend.name] = backend
    _AVAILABLE.clear()
    _SELECTED.clear()
    _TIMINGS.clear()


for _backend in (TorchCSR(), TorchCSRReduce(), PyGEdgeIndex(), TorchSparse(),
                 PyGMessagePassing()):
    register_backend(_backend)


def backend_names() -> tuple[str, ...]:
    """Every registered backend, installed or not."""
    return tuple(_REGISTRY)


def get_backend_impl(name: str) -> SpMMBackend:
    """The registered backend called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; known: {backend_names()}") from None


def _canonical(device: torch.device | str) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def is_available(name: str, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> bool:
    """Whether backend ``name`` is installed and multiplies correctly on ``(device, dtype)``
    (a tiny product checked against the dense one, once)."""
    backend = get_backend_impl(name)
    device = _canonical(device)
    key = (name, device, dtype)
    if key not in _AVAILABLE:
        _AVAILABLE[key] = backend.is_installed() and _works(backend, device, dtype)
    return _AVAILABLE[key]


def _works(backend: SpMMBackend, device: torch.device, dtype: torch.dtype) -> bool:
    rows = torch.tensor([0, 0, 1, 2, 2, 2])
    cols = torch.tensor([1, 3, 0, 0, 2, 3])
    values = torch.tensor([0.5, 1.0, -2.0, 0.25, 1.5, 3.0])
    matrix = csr_from_coo(rows, cols, values, (3, 4))
    x = torch.arange(8, dtype=torch.float32).view(4, 2) / 4 - 0.5
    expected = matrix.to_dense() @ x
    try:
        with torch.no_grad():
            handle = backend.prepare(csr_to(matrix, device, dtype))
            out = backend.spmm(handle, x.to(device, dtype))
        return (out.dtype == dtype and tuple(out.shape) == (3, 2)
                and torch.allclose(out.float().cpu(), expected, atol=2e-2))
    except Exception:  # not implemented for this device / dtype: unavailable
        return False


def available_backends(device: torch.device | str = "cpu",
                       dtype: torch.dtype = torch.float32) -> list[str]:
    """The backends that work on ``(device, dtype)``, in :data:`PREFERENCE` order."""
    names = sorted(_REGISTRY, key=lambda n: PREFERENCE.index(n) if n in PREFERENCE
                   else len(PREFERENCE))
    return [name for name in names if is_available(name, device, dtype)]


def set_backend(name: str | None) -> str | None:
    """Forces backend ``name`` for every product that does not name one (``None`` or
    ``"auto"``: back to the measured choice). Returns the previous setting."""
    global _FORCED
    previous = _FORCED
    if name in AUTO_NAMES:
        _FORCED = None
    else:
        get_backend_impl(name)  # validates the name
        _FORCED = name
    return previous


def get_backend() -> str | None:
    """The backend forced by :func:`set_backend` (or ``GRAPHREC_BACKEND``), else ``None``."""
    if _FORCED is not None:
        return _FORCED
    env = os.environ.get(ENV_VAR, "").strip()
    return None if env in ("", "auto") else env


def select_backend(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                   backend: str | None = None) -> str:
    """The backend a product on ``(device, dtype)`` runs with (see the module docstring).

    Raises:
        RuntimeError: if a forced backend does not work on ``(device, dtype)``.
    """
    name = backend if backend not in AUTO_NAMES else get_backend()
    if name is not None:
        if not is_available(name, device, dtype):
            raise RuntimeError(
                f"backend {name!r} is not available for {dtype} on {torch.device(device)}; "
                f"available: {available_backends(device, dtype)}")
        return name
    device = _canonical(device)
    key = (device, dtype)
    selected = _SELECTED.get(key)
    if selected is None:
        selected = _SELECTED[key] = _measure_and_choose(device, dtype)
    return selected


def backend_timings(device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Seconds per probe product (minimum over the runs; the warm-up time for backends
    skipped as clearly slower) of each available backend on ``(device, dtype)``, measured
    on first use, as for the automatic choice."""
    device = _canonical(device)
    if (device, dtype) not in _TIMINGS:
        _SELECTED[(device, dtype)] = _measure_and_choose(device, dtype)
    return dict(_TIMINGS[(device, dtype)])


def _probe_matrix(device: torch.device, dtype: torch.dtype) -> Tensor:
    """A seeded sparse matrix with skewed (power-law-like) column popularity: row ``i``
    has ``PROBE_NNZ / PROBE_NODES`` entries on average, columns drawn as
    ``floor(n u^3)`` (density ~ x^(-2/3): a few very popular nodes, a long tail).
    Built directly in CSR (no sort; within-row order does not matter for timing)."""
    generator = torch.Generator().manual_seed(0)
    degree = torch.randint(1, 2 * PROBE_NNZ // PROBE_NODES, (PROBE_NODES,),
                           generator=generator)
    crow = torch.zeros(PROBE_NODES + 1, dtype=torch.int64)
    torch.cumsum(degree, 0, out=crow[1:])
    nnz = int(crow[-1])
    cols = (torch.rand(nnz, generator=generator).pow(3) * PROBE_NODES).long()
    values = torch.rand(nnz, generator=generator) / 16
    matrix = csr_tensor(crow.int(), cols.int(), values, (PROBE_NODES, PROBE_NODES))
    return csr_to(matrix, device, dtype)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _measure_and_choose(device: torch.device, dtype: torch.dtype) -> str:
    candidates = available_backends(device, dtype)
    if not candidates:
        raise RuntimeError(f"no SpMM backend works for {dtype} on {device}")
    matrix = _probe_matrix(device, dtype)
    x = torch.randn(PROBE_NODES, PROBE_DIM, generator=torch.Generator().manual_seed(1))
    x = x.to(device, dtype)

    def timed(name: str, handle: Any) -> float:
        _synchronize(device)
        start = time.perf_counter()
        _REGISTRY[name].spmm(handle, x)
        _synchronize(device)
        return time.perf_counter() - start

    handles: dict[str, Any] = {}
    timings: dict[str, float] = {}
    with torch.no_grad():
        for name in candidates:  # prepare and warm up
            try:
                handles[name] = _REGISTRY[name].prepare(matrix)
                timings[name] = timed(name, handles[name])
            except Exception:  # e.g. out of memory on a full device: skip it
                handles.pop(name, None)
        if not timings:
            raise RuntimeError(f"no SpMM backend works for {dtype} on {device}")
        # clearly slower ones keep their warm-up time; the rest are timed round-robin (so
        # that interference from other processes hits all alike) and keep their minimum
        contenders = [n for n in timings if timings[n] <= SKIP_FACTOR * min(timings.values())]
        runs: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(PROBE_REPEATS):
            for name in contenders:
                runs[name].append(timed(name, handles[name]))
        timings.update({name: min(values) for name, values in runs.items()})
    _TIMINGS[(device, dtype)] = timings
    fastest = min(timings.values())
    return next(name for name in candidates
                if name in timings and timings[name] <= fastest * (1 + TIE_MARGIN))


__all__ = ["ENV_VAR", "PREFERENCE", "SpMMBackend", "available_backends", "backend_names",
           "backend_timings", "get_backend", "get_backend_impl", "is_available",
           "register_backend", "select_backend", "set_backend"]
