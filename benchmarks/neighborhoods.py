r"""PinSAGE importance-neighbourhood sampling speed: neighbourhoods per second.

For a set of query items, :class:`graphrec.sampling.neighborhoods.ImportanceNeighborhoods`
runs ``num_walks`` walks with restart from every item at once (the vectorised walk engine)
and keeps the top-:math:`T` visited items. The baseline, measured in the same run, is the
same computation one item at a time (a Python loop over items, each a batch of its own
walks: what a per-node sampler does). Both give neighbourhoods with the same
distribution; the ratio is the speed-up of batching across items. The multi-hop
mini-batch subgraph of a 512-item batch (2 layers, from the cached table) is timed too.

Graphs: MovieLens-100K and the Last.fm user–artist graph (from ``--root``,
``GRAPHREC_DATA`` or ``../shared/data``). Devices: CPU, and CUDA when available.

CPU timings need a quiet machine; ``--threads 1`` gives stable numbers on a shared one.

Examples::

    python benchmarks/neighborhoods.py --threads 1                       # smoke run
    python benchmarks/neighborhoods.py --items 4096 --loop-items 256 --output nb.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root, timed  # noqa: E402
from graphrec.data import load_lastfm, load_movielens_100k  # noqa: E402
from graphrec.graph.interactions import Interactions  # noqa: E402
from graphrec.sampling.neighborhoods import (  # noqa: E402
    ImportanceNeighborhoods,
    MultiHopSampler,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--datasets", default="movielens-100k,lastfm")
    parser.add_argument("--items", type=int, default=2048, help="query items, batched run")
    parser.add_argument("--loop-items", type=int, default=128,
                        help="query items of the per-item loop baseline")
    parser.add_argument("--num-walks", type=int, default=256)
    parser.add_argument("--walk-length", type=int, default=6)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--devices", default=None, help="default: cpu, plus cuda if present")
    parser.add_argument("--output", default=None, help="JSON of the results")
    return parser.parse_args(argv)


def load(name: str, root: str) -> Interactions:
    dataset = (load_movielens_100k(root, download=False) if name == "movielens-100k"
               else load_lastfm(root, download=False))
    return Interactions.from_graph(dataset.graph)


def measure(name: str, train: Interactions, device: torch.device,
            args: argparse.Namespace) -> dict:
    """Batched and per-item-loop neighbourhoods per second, and one 512-item subgraph."""
    neighborhoods = ImportanceNeighborhoods.from_interactions(
        train, num_walks=args.num_walks, walk_length=args.walk_length).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    items = torch.randint(train.num_items, (args.items,), generator=generator, device=device)
    loop_items = items[: args.loop_items]

    def batched() -> None:
        neighborhoods.sample(items, generator)

    def loop() -> None:
        for item in loop_items:
            neighborhoods.sample(item.view(1), generator)

    batched()  # warm-up
    batched_s = timed(batched, device)
    loop_s = timed(loop, device)
    sampler = MultiHopSampler(neighborhoods, num_layers=2)
    sampler.sample(items[:512])  # builds the cached table
    subgraph_s = timed(lambda: sampler.sample(items[:512]), device)
    row = {"graph": name, "device": str(device), "items": args.items,
           "num_walks": args.num_walks, "walk_length": args.walk_length,
           "batched_per_s": args.items / batched_s,
           "loop_per_s": loop_items.numel() / loop_s, "subgraph_512_ms": subgraph_s * 1e3}
    row["speedup"] = row["batched_per_s"] / row["loop_per_s"]
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = (args.devices.split(",") if args.devices else
               ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    print(f"threads={torch.get_num_threads()} load average={os.getloadavg()}")
    if os.getloadavg()[0] > 1.0:
        print("warning: the machine is busy; timings are indicative only")
    root = data_root(args.root)
    rows = []
    header = (f"{'graph':<16}{'device':<8}{'batched nbhd/s':>16}{'loop nbhd/s':>14}"
              f"{'speed-up':>10}{'subgraph ms':>13}")
    print(header)
    print("-" * len(header))
    for name in args.datasets.split(","):
        train = load(name, root)
        for device_name in devices:
            row = measure(name, train, torch.device(device_name), args)
            rows.append(row)
            print(f"{name:<16}{device_name:<8}{row['batched_per_s']:>16.0f}"
                  f"{row['loop_per_s']:>14.0f}{row['speedup']:>9.1f}x"
                  f"{row['subgraph_512_ms']:>13.2f}")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
