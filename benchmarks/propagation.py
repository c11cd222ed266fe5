r"""Propagation speed: graphrec's LightGCN layers vs PyG's, same graphs, same run.

Graphs: the real Last.fm (HetRec 2011, from ``../shared/data`` or ``GRAPHREC_DATA``) and
seeded synthetic power-law bipartite graphs. A graph's size is its number of *directed*
edges, i.e. the non-zeros of the :math:`(|U|+|I|)^2` adjacency (two per interaction), as
in "Gowalla: 70,839 nodes, 1.62 M directed edges". Synthetic graphs have
:math:`|U|+|I| = E / 23` nodes (Gowalla's mean degree), 42 % users, and interactions whose
user and item are drawn independently with Zipf probabilities :math:`p(r) \propto r^{-0.8}`
over ranks (duplicates redrawn), so both degree sequences are heavy-tailed.

**Propagation** (``L`` = 3 layers of the symmetric LightGCN propagation
:math:`E^{(l+1)} = D^{-1/2} A D^{-1/2} E^{(l)}`, for each ``d`` in ``--dims``). Rows:

- ``pyg_lgconv``: ``torch_geometric.nn.LGConv`` called with an ``edge_index`` (the
  baseline every ratio is taken against, measured in the same run);
- ``pyg_lgconv_sparse_tensor``: ``LGConv`` on a torch-sparse ``SparseTensor`` (only when
  torch-sparse is installed);
- ``torch_sparse_mm_autograd``: ``torch.sparse.mm`` on a cached normalised CSR matrix
  with PyTorch's own backward (which transposes the matrix at every call);
- ``graphrec:auto`` (``graphrec.nn.LightGCNConv()``, backend chosen automatically; the
  chosen one is printed) and ``graphrec:<backend>`` for every available backend of
  :mod:`graphrec.ops.backends` (the same layer with ``backend=<name>``).

Each row runs in a fresh subprocess: one warm-up forward + backward (which builds and
caches the operator: ``first_s``), then the median of ``--repeats`` forward passes
(``torch.no_grad``) and of ``--repeats`` forward + backward passes (backward of
``sum(out * upstream)``). A case whose warm-up is slow gets fewer repeats
(``--case-seconds``), never fewer than one. Outputs and input gradients are compared with
those of ``pyg_lgconv`` (``max_abs_diff``, float32).

- ``peak_mem_bytes``: on CPU, the peak resident set size (``ru_maxrss``) of the row's
  subprocess: everything, Python, torch, the graph, inputs, caches and temporaries; dims
  run in increasing order in one subprocess, so it is the peak up to that ``d``.
  ``extra_mem_bytes`` is that peak minus the resident size after loading the graph (before
  any propagation). On CUDA, ``torch.cuda.max_memory_allocated`` for that ``d``.
- ``gbps``: useful bytes / forward + backward seconds, with the byte model of one SpMM
  :math:`A X` (:math:`n` rows, :math:`nnz` entries, element size :math:`s`):
  index :math:`4\,nnz + 4(n+1)` (int32 columns and row pointers) + values :math:`4\,nnz`
  + gathered rows :math:`nnz \cdot d \cdot s` + written rows :math:`n \cdot d \cdot s`,
  times :math:`2L` for forward + backward. The same model for every row, so it is an
  effective bandwidth that ranks implementations by time.

**Training** (``--train-sizes``): seconds per LightGCN epoch (BPR, batch 2048, one
negative, Adam 1e-3, ``d = --train-dim``, 3 layers) with graphrec's
``graphrec.models.LightGCN`` (``model.loss(batch)``) and with PyG's
``torch_geometric.nn.models.LightGCN`` (its documented loop: ``model(edge_index,
edge_label_index)``, ``recommendation_loss``), the same ``PairBatches`` on the same graph,
each in its own subprocess. One warm-up step, then ``--train-batches`` timed steps;
``epoch_s`` = epoch batch preparation (shuffle + negative sampling, timed) + mean step
time x steps per epoch. Both models start from the same embeddings; the final embeddings
of the two are compared (``max_abs_diff``).

CPU timings need a quiet machine: when other processes load the cores, every parallel
kernel waits for descheduled threads (the script prints the load average and warns);
``--threads 1`` gives stable, if slower, numbers on a shared machine.

Examples::

    python benchmarks/propagation.py --sizes 1e5 --dims 64 --repeats 2      # smoke run
    python benchmarks/propagation.py --sizes lastfm,1e5,1e6,1e7 --dims 32,64,128 \
        --output propagation.json --markdown propagation.md                   # full run
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import (  # noqa: E402
    data_root,
    parse_size,
    powerlaw_bipartite,
    sync,
    timed,
)

BASELINE = "pyg_lgconv"


# ---------------------------------------------------------------------------------- graphs
def load_lastfm_graph(root: str | None) -> tuple[torch.Tensor, int, int]:
    from graphrec.data import load_lastfm
    from graphrec.graph.build import INTERACTS, ITEM, USER

    graph = load_lastfm(data_root(root), download=False).graph
    return graph[INTERACTS].edge_index, graph[USER].num_nodes, graph[ITEM].num_nodes


# --------------------------------------------------------------------------------- workers
def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _propagator(method: str, edge_index: torch.Tensor, num_nodes: int, layers: int):
    """``fn(x) -> out`` running ``layers`` propagation layers with ``method``."""
    if method == BASELINE:
        from torch_geometric.nn import LGConv

        conv = LGConv()
        graph: Any = edge_index
    elif method == "pyg_lgconv_sparse_tensor":
        from torch_geometric.nn import LGConv
        from torch_geometric.typing import SparseTensor

        conv = LGConv()
        graph = SparseTensor(row=edge_index[1], col=edge_index[0],
                             sparse_sizes=(num_nodes, num_nodes))
    elif method == "torch_sparse_mm_autograd":
        from graphrec.ops import SparseOperator

        matrix = SparseOperator.from_edge_index(edge_index, num_nodes).matrix

        def run_mm(x: torch.Tensor) -> torch.Tensor:
            values = matrix.values().to(x.dtype)
            csr = torch.sparse_csr_tensor(matrix.crow_indices(), matrix.col_indices(), values,
                                          matrix.shape)
            for _ in range(layers):
                x = torch.sparse.mm(csr, x)
            return x

        return run_mm, None
    elif method.startswith("graphrec:"):
        from graphrec.nn import LightGCNConv

        backend = method.split(":", 1)[1]
        conv = LightGCNConv(backend="spmm" if backend == "auto" else backend)
        graph = edge_index
    else:
        raise ValueError(f"unknown method {method!r}")

    def run(x: torch.Tensor) -> torch.Tensor:
        for _ in range(layers):
            x = conv(x, graph)
        return x

    return run, conv


def _measure_dim(spec: dict[str, Any], run, num_nodes: int, num_edges: int, dim: int,
                 device: torch.device, rss_loaded: int) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(dim)
    x = torch.randn(num_nodes, dim, generator=generator).to(device)
    upstream = torch.randn(num_nodes, dim, generator=generator).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    leaf = x.clone().requires_grad_()

    def forward() -> None:
        with torch.no_grad():
            run(x)

    def forward_backward() -> None:
        leaf.grad = None
        (run(leaf) * upstream).sum().backward()

    first = timed(forward_backward, device)
    repeats = max(1, min(spec["repeats"], int(spec["case_seconds"] / max(first, 1e-9) / 2)))
    fwd = statistics.median(timed(forward, device) for _ in range(repeats))
    fwd_bwd = statistics.median(timed(forward_backward, device) for _ in range(repeats))
    if device.type == "cuda":
        peak, extra = torch.cuda.max_memory_allocated(device), None
    else:
        peak = _peak_rss_bytes()
        extra = peak - rss_loaded
    row: dict[str, Any] = {
        "kind": "propagation", "graph": spec["graph"], "backend": spec["method"],
        "num_nodes": num_nodes, "num_edges": num_edges, "dim": dim,
        "layers": spec["layers"], "device": str(device), "first_s": first,
        "fwd_s": fwd, "fwd_bwd_s": fwd_bwd, "repeats": repeats,
        "peak_mem_bytes": peak, "extra_mem_bytes": extra,
    }
    if spec["method"] == "graphrec:auto":
        from graphrec.ops import select_backend

        row["chosen"] = select_backend(device, x.dtype)
    with torch.no_grad():
        out = run(x).cpu()
    grad = leaf.grad.cpu()
    ref_file = Path(spec["ref_dir"]) / f"ref_d{dim}.pt"
    if ref_file.exists():
        ref = torch.load(ref_file)
        row["max_abs_diff"] = max((out - ref["out"]).abs().max().item(),
                                  (grad - ref["grad"]).abs().max().item())
        row["reference"] = ref["method"]
    elif spec.get("save_reference"):
        torch.save({"out": out, "grad": grad, "method": spec["method"]}, ref_file)
    return row


def worker_propagation(spec: dict[str, Any]) -> None:
    from graphrec.models.lightgcn import bipartite_edge_index

    device = torch.device(spec["device"])
    data = torch.load(spec["graph_file"])
    edge_index = bipartite_edge_index(data["user_item"], data["num_users"]).to(device)
    num_nodes = data["num_users"] + data["num_items"]
    rss_loaded = _rss_bytes()
    run, _ = _propagator(spec["method"], edge_index, num_nodes, spec["layers"])
    for dim in spec["dims"]:
        row = _measure_dim(spec, run, num_nodes, int(edge_index.size(1)), dim, device,
                           rss_loaded)
        print("RESULT " + json.dumps(row), flush=True)


def worker_train(spec: dict[str, Any]) -> None:
    from graphrec.graph.interactions import Interactions
    from graphrec.models.lightgcn import LightGCN, bipartite_edge_index
    from graphrec.sampling.batches import PairBatches

    device = torch.device(spec["device"])
    data = torch.load(spec["graph_file"])
    user_item, num_users, num_items = data["user_item"], data["num_users"], data["num_items"]
    dim, layers = spec["dim"], spec["layers"]
    torch.manual_seed(0)
    ours = LightGCN(num_users, num_items, user_item, embedding_dim=dim,
                    num_layers=layers).to(device)
    edge_index = bipartite_edge_index(user_item, num_users).to(device)
    if spec["method"] == "graphrec_lightgcn":
        model: torch.nn.Module = ours

        def loss_of(batch):
            return ours.loss(batch)
    else:
        from torch_geometric.nn.models import LightGCN as PyGLightGCN

        pyg = PyGLightGCN(num_users + num_items, dim, layers).to(device)
        with torch.no_grad():  # same start as graphrec's model
            pyg.embedding.weight.copy_(ours.embedding.weight)
        model = pyg

        def loss_of(batch):
            users = batch.users
            items = torch.cat([batch.pos_items, batch.neg_items]) + num_users
            edge_label_index = torch.stack([torch.cat([users, users]), items])
            pos_rank, neg_rank = pyg(edge_index, edge_label_index).chunk(2)
            return pyg.recommendation_loss(pos_rank, neg_rank,
                                           node_id=edge_label_index.unique(),
                                           lambda_reg=1e-4)

    train = Interactions(user_item, num_users, num_items)
    batches = PairBatches(train, batch_size=spec["batch_size"], device=device, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_of(batch).backward()
        optimizer.step()

    sync(device)
    start = time.perf_counter()
    iterator = iter(batches)
    first_batch = next(iterator)  # the epoch's shuffle and negative sampling happen here
    sync(device)
    prepare_s = time.perf_counter() - start
    first_step_s = timed(lambda: step(first_batch), device)
    timed_steps = min(spec["train_batches"], len(batches) - 1)
    times = []
    for _, batch in zip(range(timed_steps), iterator, strict=False):
        times.append(timed(lambda batch=batch: step(batch), device))
    step_s = statistics.mean(times) if times else first_step_s
    row = {"kind": "train", "graph": spec["graph"], "model": spec["method"],
           "num_edges": int(edge_index.size(1)), "num_interactions": int(user_item.size(1)),
           "dim": dim, "layers": layers, "batch_size": spec["batch_size"],
           "batches_per_epoch": len(batches), "timed_batches": len(times),
           "prepare_s": prepare_s, "first_step_s": first_step_s, "step_s": step_s,
           "epoch_s": prepare_s + step_s * len(batches), "device": str(device)}
    if spec["method"] == "pyg_lightgcn":  # same weights after the same steps?
        with torch.no_grad():
            reference = LightGCN(num_users, num_items, user_item, embedding_dim=dim,
                                 num_layers=layers).to(device)
            reference.embedding.weight.copy_(pyg.embedding.weight)
            users, items = reference()
            theirs = pyg.get_embedding(edge_index)
            row["max_abs_diff"] = (torch.cat([users, items]) - theirs).abs().max().item()
    print("RESULT " + json.dumps(row), flush=True)


# ---------------------------------------------------------------------------------- driver
def run_worker(kind: str, spec: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    command = [sys.executable, str(Path(__file__).resolve()), f"--worker-{kind}",
               json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=str(REPO_ROOT))
    except subprocess.TimeoutExpired as error:
        stdout = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout
        rows = [json.loads(line[7:]) for line in (stdout or "").splitlines()
                if line.startswith("RESULT ")]
        return rows + [{"error": f"timed out after {timeout:.0f} s"}]
    rows = [json.loads(line[7:]) for line in done.stdout.splitlines()
            if line.startswith("RESULT ")]
    if done.returncode != 0:
        reason = ("killed (out of memory?)" if done.returncode in (-9, 137)
                  else done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"])
        rows.append({"error": reason if isinstance(reason, str) else reason[0]})
    return rows


def spmm_bytes(num_nodes: int, nnz: int, dim: int, element_size: int = 4) -> int:
    """Useful bytes of one SpMM (see the module docstring's byte model)."""
    return 4 * nnz + 4 * (num_nodes + 1) + 4 * nnz + (nnz + num_nodes) * dim * element_size


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"


def format_propagation(rows: list[dict[str, Any]]) -> str:
    header = ("| backend | edges | d | fwd s | fwd+bwd s | GB/s | peak MB | extra MB "
              "| vs pyg fwd | vs pyg fwd+bwd | max abs diff |")
    lines = [header, "|" + " --- |" * 11]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r.get('num_edges', '-')} | {r.get('dim', '-')} "
                         f"| {r['error']} |" + " |" * 8)
            continue
        name = r["backend"] + (f" ({r['chosen']})" if "chosen" in r else "")
        diff = f"{r['max_abs_diff']:.1e}" if "max_abs_diff" in r else "reference"
        lines.append(
            f"| {name} | {r['num_edges']:,} | {r['dim']} | {r['fwd_s']:.4f} "
            f"| {r['fwd_bwd_s']:.4f} | {r['gbps']:.2f} | {_mb(r['peak_mem_bytes'])} "
            f"| {_mb(r['extra_mem_bytes'])} | {_ratio(r.get('fwd_speedup_vs_pyg'))} "
            f"| {_ratio(r.get('speedup_vs_pyg'))} | {diff} |")
    return "\n".join(lines)


def format_train(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | graph | edges | batches/epoch | timed | step s | epoch s | vs pyg "
             "| max abs diff |", "|" + " --- |" * 9]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['graph']} | | | | {r['error']} | | | |")
            continue
        diff = f"{r['max_abs_diff']:.1e}" if "max_abs_diff" in r else ""
        lines.append(f"| {r['model']} | {r['graph']} | {r['num_edges']:,} "
                     f"| {r['batches_per_epoch']} | {r['timed_batches']} | {r['step_s']:.4f} "
                     f"| {r['epoch_s']:.2f} | {_ratio(r.get('speedup_vs_pyg'))} "
                     f"| {diff} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="lastfm,1e5,1e6",
                        help="comma list: 'lastfm' and/or directed edge counts (1e5,1e6,1e7)")
    parser.add_argument("--dims", default="32,64,128")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case-seconds", type=float, default=120.0,
                        help="fewer repeats (at least one) when a case would take longer")
    parser.add_argument("--methods", default=None,
                        help="comma list of rows to run (default: all available; ratios need "
                             "pyg_lgconv in the list)")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-propagation", action="store_true")
    parser.add_argument("--train-sizes", default=None,
                        help="graphs for the training benchmark (default: those of --sizes "
                             "up to 2e6 edges)")
    parser.add_argument("--train-dim", type=int, default=64)
    parser.add_argument("--train-batches", type=int, default=10,
                        help="timed training steps per model (after one warm-up step)")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads in the measuring subprocesses (default: "
                             "torch's); use 1 when other processes load the cores")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per subprocess")
    parser.add_argument("--output", default=None, help="JSON file for all rows")
    parser.add_argument("--markdown", default=None, help="markdown file for the tables")
    parser.add_argument("--worker-propagation", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-train", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_propagation or args.worker_train:
        spec = json.loads(args.worker_propagation or args.worker_train)
        if spec.get("threads"):
            torch.set_num_threads(spec["threads"])
        return (worker_propagation(spec) if args.worker_propagation else worker_train(spec))

    from graphrec.ops import available_backends

    device = torch.device(args.device)
    dims = sorted(int(d) for d in args.dims.split(","))
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    train_sizes = ([s.strip() for s in args.train_sizes.split(",") if s.strip()]
                   if args.train_sizes is not None
                   else [s for s in sizes if s == "lastfm" or parse_size(s) <= 2e6])
    import torch_geometric.typing

    methods = [BASELINE]
    if torch_geometric.typing.WITH_TORCH_SPARSE:
        methods.append("pyg_lgconv_sparse_tensor")
    methods += ["torch_sparse_mm_autograd", "graphrec:auto"]
    methods += [f"graphrec:{name}" for name in available_backends(device, torch.float32)]
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",")]
        methods = [m for m in methods if m in wanted]  # without pyg_lgconv: no ratios

    command = "python benchmarks/propagation.py " + " ".join(sys.argv[1:])
    threads = args.threads or torch.get_num_threads()
    environment = (f"torch {torch.__version__}, torch_geometric {torch_geometric.__version__}, "
                   f"device {device}, {threads} threads, torch-sparse "
                   f"{'yes' if torch_geometric.typing.WITH_TORCH_SPARSE else 'no'}, "
                   f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"# {command}\n# {environment}")
    if device.type == "cpu" and os.getloadavg()[0] > 0.5:
        print("# WARNING: other processes are using the CPU; with several threads, parallel "
              "kernels wait for descheduled threads and timings are distorted (try "
              "--threads 1, or a quiet machine)", flush=True)
    all_rows: list[dict[str, Any]] = []
    markdown = [f"Command: `{command}`", "", environment, ""]

    def emit(title: str, table: str, rows: list[dict[str, Any]]) -> None:
        """Prints one table and keeps it for the markdown and JSON outputs."""
        print(f"\n{title}\n\n{table}\n", flush=True)
        markdown.extend([title, "", table, ""])
        all_rows.extend(rows)
    with tempfile.TemporaryDirectory(prefix="graphrec-bench-") as tmp:
        graph_files: dict[str, tuple[str, int, int]] = {}
        for size in dict.fromkeys(sizes + ([] if args.skip_train else train_sizes)):
            start = time.perf_counter()
            if size == "lastfm":
                user_item, num_users, num_items = load_lastfm_graph(args.data_root)
            else:
                user_item, num_users, num_items = powerlaw_bipartite(parse_size(size),
                                                                     args.seed)
            path = str(Path(tmp) / f"graph_{size}.pt")
            torch.save({"user_item": user_item, "num_users": num_users,
                        "num_items": num_items}, path)
            graph_files[size] = (path, num_users + num_items, 2 * user_item.size(1))
            print(f"# graph {size}: {num_users:,} users, {num_items:,} items, "
                  f"{2 * user_item.size(1):,} directed edges "
                  f"({time.perf_counter() - start:.1f} s to build)", flush=True)

        for size in [] if args.skip_propagation else sizes:
            path, num_nodes, num_edges = graph_files[size]
            ref_dir = Path(tmp) / f"ref_{size}"
            ref_dir.mkdir()
            rows: list[dict[str, Any]] = []
            for method in methods:
                spec = {"graph": size, "graph_file": path, "method": method, "dims": dims,
                        "layers": args.layers, "device": str(device),
                        "repeats": args.repeats, "case_seconds": args.case_seconds,
                        "ref_dir": str(ref_dir), "threads": args.threads,
                        "save_reference": not any(p.exists() for p in ref_dir.iterdir())}
                for row in run_worker("propagation", spec, args.timeout):
                    row.setdefault("backend", method)
                    row.setdefault("graph", size)
                    row.setdefault("num_edges", num_edges)
                    rows.append(row)
                    if "error" not in row:
                        nbytes = 2 * args.layers * spmm_bytes(num_nodes, num_edges, row["dim"])
                        row["gbps"] = nbytes / row["fwd_bwd_s"] / 1e9
                    print(f"  {size} {method} "
                          + (row["error"] if "error" in row else
                             f"d={row['dim']} fwd {row['fwd_s']:.4f} s, "
                             f"fwd+bwd {row['fwd_bwd_s']:.4f} s"), flush=True)
            baselines = {r["dim"]: r for r in rows
                         if r.get("backend") == BASELINE and "error" not in r}
            for row in rows:
                base = baselines.get(row.get("dim"))
                if base is not None and "error" not in row:
                    row["speedup_vs_pyg"] = base["fwd_bwd_s"] / row["fwd_bwd_s"]
                    row["fwd_speedup_vs_pyg"] = base["fwd_s"] / row["fwd_s"]
                else:
                    row.setdefault("speedup_vs_pyg", None)
                    row.setdefault("fwd_speedup_vs_pyg", None)
            rows.sort(key=lambda r: (r.get("dim", 0), methods.index(r["backend"])))
            table = format_propagation(rows)
            title = (f"### Propagation: {size} ({num_nodes:,} nodes, {num_edges:,} directed "
                     f"edges), {args.layers} layers, {device}")
            emit(title, table, rows)

        if not args.skip_train:
            for size in train_sizes:
                path, _, num_edges = graph_files[size]
                rows = []
                for model in ("pyg_lightgcn", "graphrec_lightgcn"):
                    spec = {"graph": size, "graph_file": path, "method": model,
                            "dim": args.train_dim, "layers": args.layers,
                            "batch_size": args.batch_size, "train_batches": args.train_batches,
                            "device": str(device), "threads": args.threads}
                    for row in run_worker("train", spec, args.timeout):
                        row.setdefault("model", model)
                        row.setdefault("graph", size)
                        row.setdefault("num_edges", num_edges)
                        rows.append(row)
                base = next((r for r in rows if r["model"] == "pyg_lightgcn"
                             and "error" not in r), None)
                for row in rows:
                    row["speedup_vs_pyg"] = (base["epoch_s"] / row["epoch_s"]
                                             if base is not None and "error" not in row
                                             else None)
                table = format_train(rows)
                title = (f"### Training: LightGCN epoch on {size} ({num_edges:,} directed "
                         f"edges), d = {args.train_dim}, batch {args.batch_size}, {device}")
                emit(title, table, rows)

    if args.output:
        Path(args.output).write_text(json.dumps(all_rows, indent=2))
    if args.markdown:
        Path(args.markdown).write_text("\n".join(markdown))


if __name__ == "__main__":
    main()
