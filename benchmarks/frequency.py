"""The streaming frequency estimator on a simulated Zipf stream (issue 18's bar: median
relative error of the estimated per-event probability of the 1,000 most frequent items
<= 10 % on >= 1e6 events over 1e5 items).

    python benchmarks/frequency.py --output frequency.json
    python benchmarks/frequency.py --events 1e7 --alpha 0.01 0.05 --hashes 1 2 4 --device cuda

The stream draws item ranks from :math:`p_r \\propto r^{-s}` (``--exponent`` s), maps ranks to
shuffled item ids, and feeds :class:`~graphrec.sampling.frequency.FrequencyEstimator` one
batch (``--batch-size`` ids) per step. One JSON row per setting: ``median_relative_error``,
``p90_relative_error`` and ``events_per_second`` (time of the updates only).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from graphrec.sampling.frequency import FrequencyEstimator  # noqa: E402


def zipf_stream(num_events: int, num_items: int, exponent: float = 1.0, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(stream [num_events], item ids by rank [num_items], true probability by rank)``."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.arange(1, num_items + 1, dtype=torch.float64).pow(-exponent)
    probs /= probs.sum()
    ranks = torch.multinomial(probs, num_events, replacement=True, generator=g)
    item_of_rank = torch.randperm(num_items, generator=g)  # frequency is not the id order
    return item_of_rank[ranks], item_of_rank, probs


def zipf_relative_errors(num_events: int = 1_000_000, num_items: int = 100_000,
                         batch_size: int = 1024, top: int = 1000, exponent: float = 1.0,
                         device: str = "cpu", **estimator_args: Any
                         ) -> tuple[torch.Tensor, float]:
    """Relative errors ``|p̂ - p| / p`` of the ``top`` most frequent items after the stream,
    and the update time in seconds."""
    stream, item_of_rank, probs = zipf_stream(num_events, num_items, exponent)
    stream = stream.to(device)
    estimator = FrequencyEstimator(**estimator_args).to(device)
    batches = stream.split(batch_size)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for ids in batches:
        estimator.update(ids)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    estimate = estimator.probability(item_of_rank[:top].to(device)).cpu()
    return (estimate - probs[:top]).abs() / probs[:top], seconds


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=1e6)
    parser.add_argument("--items", type=float, default=1e5)
    parser.add_argument("--top", type=int, default=1000)
    parser.add_argument("--exponent", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1024])
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.01])
    parser.add_argument("--hashes", type=int, nargs="+", default=[2])
    parser.add_argument("--buckets", type=int, default=2**20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", help="write all rows to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    for batch_size, alpha, hashes in itertools.product(args.batch_size, args.alpha,
                                                       args.hashes):
        errors, seconds = zipf_relative_errors(
            int(args.events), int(args.items), batch_size, args.top, args.exponent,
            args.device, num_buckets=args.buckets, num_hashes=hashes, alpha=alpha)
        row = {"library": "graphrec", "model": "frequency_estimator",
               "dataset": f"zipf(s={args.exponent}, items={int(args.items)})",
               "events": int(args.events), "batch_size": batch_size, "alpha": alpha,
               "num_hashes": hashes, "num_buckets": args.buckets, "device": args.device,
               "top": args.top, "median_relative_error": float(errors.median()),
               "p90_relative_error": float(errors.quantile(0.9)),
               "events_per_second": int(args.events) / seconds}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
