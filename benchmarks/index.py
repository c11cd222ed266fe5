"""Retrieval indexes over item vectors: exact (graphrec's torch path, faiss ``IndexFlatIP``)
against approximate (IVF, HNSW), recall of the exact top-50 and queries per second (issue 18's
bar: an approximate index finds >= 0.95 of the exact top-50 at >= 5x the qps of the faster
exact search).

    python benchmarks/index.py --output index.json
    python benchmarks/index.py --items 1e5 --queries 2000 --threads 1   # a quick run
    python benchmarks/index.py --device cuda   # the exact torch path on the GPU

Data: ``--items`` (1e6) item vectors and ``--queries`` (10,000) queries of dimension ``--dim``
(64), each drawn from a mixture of ``--clusters`` (1,000) Gaussians: a uniformly chosen
centre (random direction, unit norm) plus :math:`\\mathcal{N}(0, \\sigma^2 I)` noise,
``--sigma`` 0.1 per coordinate. Scores are inner products; queries go in batches of
``--batch-size`` (1,000). Every index answers through :class:`graphrec.ops.index.ItemIndex`.
``recall@50`` is the share of the exact top-50 (torch path) an index returns; ``qps`` counts
search time only (``build_seconds`` apart). IVF uses ``--nlist`` lists and is swept over
``--nprobe``; HNSW (``--hnsw-m`` links, ``--ef-construction``) over ``--ef-search``.
One JSON row per setting on stdout, all rows in ``--output``, then the bar's verdict.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import parse_size  # noqa: E402
from graphrec.ops.index import ItemIndex, require_faiss  # noqa: E402

K = 50


def gaussian_mixture(num_items: int, num_queries: int, dim: int, clusters: int,
                     sigma: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(items [num_items, dim], queries [num_queries, dim])`` from one mixture."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(clusters, dim, generator=g), dim=1)

    def draw(count: int) -> torch.Tensor:
        which = torch.randint(0, clusters, (count,), generator=g)
        return centres[which] + sigma * torch.randn(count, dim, generator=g)

    return draw(num_items), draw(num_queries)


def timed_search(index: ItemIndex, queries: torch.Tensor, batch_size: int
                 ) -> tuple[torch.Tensor, float]:
    """All ids ``[Q, K]`` and the queries per second."""
    device = getattr(index.vectors, "device", torch.device("cpu"))
    found = []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for batch in queries.split(batch_size):
        found.append(index.search(batch.to(device), K)[1])
    sync()
    seconds = time.perf_counter() - start
    return torch.cat(found).cpu(), queries.shape[0] / seconds


def recall(found: torch.Tensor, exact: torch.Tensor) -> float:
    """Mean share of each row's exact top-K among the found ids."""
    hits = (found.unsqueeze(2) == exact.unsqueeze(1)).any(1).sum(1)
    return float(hits.double().mean() / exact.shape[1])


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=parse_size, default=1_000_000)
    parser.add_argument("--queries", type=parse_size, default=10_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--nlist", type=int, default=1000)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and faiss threads (default: their own)")
    parser.add_argument("--device", default="cpu", help="device of the exact torch path")
    parser.add_argument("--output", help="write all rows to this JSON file")
    args = parser.parse_args(argv)
    faiss = require_faiss("benchmarks/index.py")
    if args.threads:
        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    items, queries = gaussian_mixture(args.items, args.queries, args.dim, args.clusters,
                                      args.sigma)
    dataset = (f"gaussian-mixture(items={args.items}, d={args.dim}, "
               f"clusters={args.clusters}, sigma={args.sigma})")
    rows: list[dict[str, Any]] = []

    def row(kind: str, library: str, build: float, found: torch.Tensor, qps: float,
            **params: Any) -> None:
        rows.append({"library": library, "model": "index", "dataset": dataset, "kind": kind,
                     **params, "queries": args.queries, "batch_size": args.batch_size,
                     "threads": args.threads or torch.get_num_threads(),
                     f"recall@{K}": recall(found, exact), "qps": qps,
                     "build_seconds": build})
        print(json.dumps(rows[-1]), flush=True)

    start = time.perf_counter()
    torch_index = ItemIndex(items.to(args.device))
    build = time.perf_counter() - start
    exact, qps = timed_search(torch_index, queries, args.batch_size)
    row("exact", "graphrec (torch)", build, exact, qps, device=args.device)
    del torch_index
    for kind, sweep in (("faiss-flat", [None]), ("faiss-ivf", args.nprobe),
                        ("faiss-hnsw", args.ef_search)):
        settings = ({"nlist": args.nlist} if kind == "faiss-ivf" else
                    {"hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction}
                    if kind == "faiss-hnsw" else {})
        start = time.perf_counter()
        index = ItemIndex(items, kind, **settings)
        build = time.perf_counter() - start
        for value in sweep:
            params = dict(settings)
            if kind == "faiss-ivf":
                index.set_search_params(nprobe=value)
                params["nprobe"] = value
            elif kind == "faiss-hnsw":
                index.set_search_params(ef_search=value)
                params["ef_search"] = value
            found, qps = timed_search(index, queries, args.batch_size)
            row({"faiss-flat": "exact", "faiss-ivf": "ivf", "faiss-hnsw": "hnsw"}[kind],
                "faiss", build, found, qps, index=kind, **params)
        del index
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=1))
    exact_qps = max(r["qps"] for r in rows if r["kind"] == "exact")
    passing = [r for r in rows if r["kind"] != "exact" and r[f"recall@{K}"] >= 0.95
               and r["qps"] >= 5 * exact_qps]
    best = max(passing, key=lambda r: r["qps"], default=None)
    print(json.dumps({"bar": "recall@50 >= 0.95 at >= 5x the faster exact qps",
                      "faster_exact_qps": exact_qps, "met": best is not None,
                      "best": best and {key: best[key] for key in
                                        ("kind", "nprobe", "ef_search", f"recall@{K}", "qps")
                                        if key in best}}), flush=True)
    return rows


if __name__ == "__main__":
    main()
