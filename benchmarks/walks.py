r"""Random-walk speed: steps per second of :mod:`graphrec.sampling.walks`, per walk kind.

Graphs: the real Last.fm user–artist graph (HetRec 2011, play counts as weights; from
``--root``, ``GRAPHREC_DATA`` or ``../shared/data``) and seeded synthetic power-law
bipartite graphs of a given number of *directed* edges (two per interaction, as in
``benchmarks/propagation.py``): :func:`benchmarks.common.powerlaw_bipartite` (Zipf user and
item popularity, shuffled labels) with log-normal integer weights, heavy-tailed like play
counts.

``lastfm-items`` is LastFM's artist graph of :mod:`graphrec.graph.sessions` (tagging sessions,
one per user and day, consecutive artists linked both ways, weights = transition counts), the
graph DeepWalk/EGES walk on in ``docs/item_embeddings.md``.

Kinds (``--kinds``), all on the homogeneous graph of :meth:`WalkGraph.from_bipartite`
except ``metapath``:

- ``uniform``: first-order, :math:`1/d_v`;
- ``weighted``: first-order, :math:`\propto w_{vx}` (binary search in the global cumsum);
- ``node2vec``: second-order with ``--p``, ``--q`` (uniform proposals, rejection);
- ``restart``: uniform with restart probability ``--restart-prob``;
- ``metapath``: item → user → item on the ``HeteroData`` (:class:`MetapathWalker`); one
  step is one item-to-item hop, i.e. two edge traversals (``edge_steps_per_s``).

Walkers start at uniformly drawn nodes with out-edges (items for ``metapath``). Each case:
one warm-up call (``first_s``), then the median of ``--repeats`` timed calls (``seconds``).
``steps_per_s`` = walkers x length / seconds. Graph construction is timed separately
(``build_s``: building the ``WalkGraph`` / ``MetapathWalker`` once).

Baseline (``uniform``, ``weighted``, ``restart``; ``--baseline-walkers``, 0 to skip): the
per-walker Python loop of the DeepWalk and node2vec reference implementations
(``random.choice`` over an adjacency list per step; weighted steps by ``bisect`` in the row's
cumulative weights), on the same graph in the same run: ``python_steps_per_s`` and the ratio
``speedup`` = ``steps_per_s / python_steps_per_s``.

CPU timings need a quiet machine (the script prints the load average and warns);
``--threads 1`` gives stable numbers on a shared one.

Examples::

    python benchmarks/walks.py --sizes lastfm --repeats 1 --walkers 1000        # smoke run
    python benchmarks/walks.py --sizes lastfm,lastfm-items,1e6,1e7 --walkers 100000 --length 80 \
        --output walks.json --markdown walks.md                                  # full run
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from torch_geometric.data import HeteroData  # noqa: E402

from benchmarks.common import (  # noqa: E402
    data_root,
    parse_size,
    powerlaw_bipartite,
    sync,
    timed,
)
from graphrec.graph.build import INTERACTS, ITEM, REV_INTERACTS, USER  # noqa: E402

KINDS = ("uniform", "weighted", "node2vec", "restart", "metapath")
# ---------------------------------------------------------------------------------- graphs
def powerlaw_hetero(num_edges: int, seed: int = 0) -> HeteroData:
    """The synthetic graph of :func:`benchmarks.common.powerlaw_bipartite` as a
    ``HeteroData`` with heavy-tailed integer weights (log-normal, like play counts)."""
    user_item, num_users, num_items = powerlaw_bipartite(num_edges, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    weight = torch.empty(user_item.size(1), dtype=torch.float64).log_normal_(
        0.0, 1.5, generator=generator).ceil().float()
    graph = HeteroData()
    graph[USER].num_nodes, graph[ITEM].num_nodes = num_users, num_items
    graph[INTERACTS].edge_index, graph[INTERACTS].edge_weight = user_item, weight
    graph[REV_INTERACTS].edge_index = user_item.flip(0)
    graph[REV_INTERACTS].edge_weight = weight
    return graph


def load_lastfm_hetero(root: str | None) -> HeteroData:
    from graphrec.data import load_dataset

    return load_dataset("lastfm", data_root(root), download=False).graph


# ------------------------------------------------------------------------------- baseline
def python_walks(indptr: list[int], indices: list[int], cumulative: list[float] | None,
                 starts: list[int], length: int, restart_prob: float = 0.0,
                 seed: int = 0) -> list[list[int]]:
    """Walks one walker and one step at a time, as the DeepWalk / node2vec reference code
    does; ``cumulative``: per-edge cumulative weights within each row (weighted steps)."""
    import bisect
    import random

    rng = random.Random(seed)
    walks = []
    for start in starts:
        walk, node = [start], start
        for _ in range(length):
            low, high = indptr[node], indptr[node + 1]
            if low == high:
                break
            if restart_prob and rng.random() < restart_prob:
                node = start
            elif cumulative is None:
                node = indices[low + int(rng.random() * (high - low))]
            else:
                base = cumulative[low - 1] if low else 0.0
                target = base + rng.random() * (cumulative[high - 1] - base)
                node = indices[min(bisect.bisect_right(cumulative, target, low, high),
                                   high - 1)]
            walk.append(node)
        walks.append(walk)
    return walks


def python_baseline(graph: Any, starts: torch.Tensor, length: int, kind: str,
                    restart_prob: float) -> float:
    """Steps per second of :func:`python_walks` for ``kind`` (uniform/weighted/restart)."""
    indptr, indices = graph.indptr.cpu().tolist(), graph.indices.cpu().tolist()
    cumulative = None
    if kind == "weighted":
        cumulative = graph.cum_weights.cpu().tolist()
    start = time.perf_counter()
    python_walks(indptr, indices, cumulative, starts.cpu().tolist(), length,
                 restart_prob if kind == "restart" else 0.0)
    return starts.numel() * length / (time.perf_counter() - start)


# ------------------------------------------------------------------------------- measuring
def _starts(degree: torch.Tensor, count: int, generator: torch.Generator,
            offset: int = 0) -> torch.Tensor:
    """``count`` uniformly drawn nodes with out-edges (``+ offset``), on the CPU."""
    candidates = (degree > 0).nonzero().view(-1)
    pick = torch.randint(0, candidates.numel(), (count,), generator=generator)
    return candidates[pick] + offset


def measure_graph(name: str, hetero: HeteroData, args: argparse.Namespace,
                  device: torch.device, homogeneous: Any = None) -> list[dict[str, Any]]:
    """Every requested kind on one graph; one row each. ``homogeneous``: a ready
    ``WalkGraph`` (e.g. an item graph) to walk on instead of the user–item graph of
    ``hetero`` (``metapath`` is skipped then)."""
    from graphrec.sampling import MetapathWalker, WalkGraph, random_walks

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    num_users, num_items = int(hetero[USER].num_nodes), int(hetero[ITEM].num_nodes)
    store = hetero[INTERACTS]
    weight = store.get("edge_weight")
    build: dict[str, float] = {}
    start = time.perf_counter()
    graph = (WalkGraph.from_bipartite(store.edge_index.to(device), num_users, num_items,
                                      None if weight is None else weight.to(device))
             if homogeneous is None else homogeneous.to(device))
    sync(device)
    build["graph"] = time.perf_counter() - start
    walker = None
    if homogeneous is not None and "metapath" in kinds:
        print(f"  {name} metapath: skipped (not a user–item graph)", flush=True)
        kinds.remove("metapath")
    if "metapath" in kinds:
        start = time.perf_counter()
        walker = MetapathWalker(hetero).to(device)
        sync(device)
        build["metapath"] = time.perf_counter() - start
    cpu_gen = torch.Generator().manual_seed(args.seed)
    starts = _starts(graph.out_degree.cpu(), args.walkers, cpu_gen).to(device)
    item_starts = (_starts(graph.out_degree[num_users:].cpu(), args.walkers, cpu_gen).to(device)
                   if homogeneous is None else starts)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    length = args.length
    runs: dict[str, Callable[[], Any]] = {
        "uniform": lambda: random_walks(graph, starts, length, generator=generator),
        "weighted": lambda: random_walks(graph, starts, length, weighted=True,
                                         generator=generator),
        "node2vec": lambda: random_walks(graph, starts, length, p=args.p, q=args.q,
                                         generator=generator),
        "restart": lambda: random_walks(graph, starts, length, restart_prob=args.restart_prob,
                                        generator=generator),
        "metapath": lambda: walker.walk(item_starts, length, generator=generator),
    }
    rows = []
    for kind in kinds:
        if kind not in runs:
            raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        if kind == "weighted" and not graph.is_weighted:
            print(f"  {name} {kind}: skipped (graph has no weights)", flush=True)
            continue
        first = timed(runs[kind], device)
        times = [timed(runs[kind], device) for _ in range(args.repeats)]
        seconds = statistics.median(times)
        steps = args.walkers * length
        hops = 2 if kind == "metapath" else 1
        row = {
            "kind": kind, "graph": name, "num_nodes": graph.num_nodes,
            "num_edges": graph.num_edges, "device": str(device), "walkers": args.walkers,
            "length": length, "repeats": args.repeats, "threads": torch.get_num_threads(),
            "first_s": first, "seconds": seconds, "steps_per_s": steps / seconds,
            "edge_steps_per_s": hops * steps / seconds,
            "build_s": build["metapath" if kind == "metapath" else "graph"],
        }
        if kind == "node2vec":
            row.update(p=args.p, q=args.q)
        if kind == "restart":
            row["restart_prob"] = args.restart_prob
        if args.baseline_walkers and kind in ("uniform", "weighted", "restart"):
            row["python_steps_per_s"] = python_baseline(
                graph, starts[:args.baseline_walkers], length, kind, args.restart_prob)
            row["speedup"] = row["steps_per_s"] / row["python_steps_per_s"]
        rows.append(row)
        print(f"  {name} {kind}: {seconds:.4f} s, {row['steps_per_s']:,.0f} steps/s"
              + (f", Python loop {row['python_steps_per_s']:,.0f} steps/s "
                 f"({row['speedup']:.0f}x)" if "speedup" in row else ""), flush=True)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = ["| graph | kind | nodes | directed edges | walkers | length | build s | s "
             "| steps/s | edge steps/s | Python loop steps/s | speedup |", "|" + " --- |" * 12]
    for r in rows:
        lines.append(f"| {r['graph']} | {r['kind']} | {r['num_nodes']:,} | {r['num_edges']:,} "
                     f"| {r['walkers']:,} | {r['length']} | {r['build_s']:.3f} "
                     f"| {r['seconds']:.4f} | {r['steps_per_s']:,.0f} "
                     f"| {r['edge_steps_per_s']:,.0f} "
                     + (f"| {r['python_steps_per_s']:,.0f} | {r['speedup']:.0f}x |"
                        if "speedup" in r else "| — | — |"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="lastfm,lastfm-items,1e6",
                        help="comma list: 'lastfm' (user–artist graph), 'lastfm-items' (the "
                             "artist graph of tagging sessions) and/or directed edge counts "
                             "(1e6,1e7)")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--length", type=int, default=80, help="steps per walk")
    parser.add_argument("--walkers", type=int, default=100_000, help="walks per call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's); use 1 on a shared machine")
    parser.add_argument("--p", type=float, default=2.0, help="node2vec return parameter")
    parser.add_argument("--q", type=float, default=0.5, help="node2vec in-out parameter")
    parser.add_argument("--restart-prob", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-walkers", type=int, default=2000,
                        help="walkers of the Python-loop baseline (0: no baseline)")
    parser.add_argument("--root", default=None,
                        help="data folder (default: $GRAPHREC_DATA, else ../shared/data)")
    parser.add_argument("--output", default=None, help="JSON file for all rows")
    parser.add_argument("--markdown", default=None, help="markdown file for the table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import torch_geometric

    device = torch.device(args.device)
    command = "python benchmarks/walks.py " + " ".join(sys.argv[1:])
    environment = (f"torch {torch.__version__}, torch_geometric {torch_geometric.__version__}, "
                   f"device {device}, {torch.get_num_threads()} threads, "
                   f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"# {command}\n# {environment}", flush=True)
    if device.type == "cpu" and os.getloadavg()[0] > 0.5:
        print("# WARNING: other processes are using the CPU; timings are distorted (try "
              "--threads 1, or a quiet machine)", flush=True)

    rows: list[dict[str, Any]] = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        start = time.perf_counter()
        hetero = (load_lastfm_hetero(args.root) if size in ("lastfm", "lastfm-items")
                  else powerlaw_hetero(parse_size(size), args.seed))
        homogeneous = None
        if size == "lastfm-items":
            # the item graph of docs/item_embeddings.md: sessions of the dated tagging
            # events (one per user and day), consecutive artists linked both ways
            from graphrec.graph.build import TAGGED
            from graphrec.graph.sessions import item_graph, sessions_from_graph

            homogeneous = item_graph(sessions_from_graph(hetero, TAGGED), symmetric=True)
            print(f"# graph {size}: {homogeneous.num_nodes:,} artists, "
                  f"{homogeneous.num_edges:,} directed edges "
                  f"({time.perf_counter() - start:.1f} s to load)", flush=True)
        else:
            print(f"# graph {size}: {int(hetero[USER].num_nodes):,} users, "
                  f"{int(hetero[ITEM].num_nodes):,} items, "
                  f"{2 * hetero[INTERACTS].edge_index.size(1):,} directed edges "
                  f"({time.perf_counter() - start:.1f} s to load)", flush=True)
        rows.extend(measure_graph(size, hetero, args, device, homogeneous))

    table = format_rows(rows)
    title = (f"### Random walks: {args.walkers:,} walkers x {args.length} steps, {device}, "
             f"node2vec p={args.p} q={args.q}, restart {args.restart_prob}")
    print(f"\n{title}\n\n{table}\n", flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2))
    if args.markdown:
        Path(args.markdown).write_text("\n".join([f"Command: `{command}`", "", environment,
                                                  "", title, "", table, ""]))


if __name__ == "__main__":
    main()
