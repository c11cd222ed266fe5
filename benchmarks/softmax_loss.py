"""Forward + backward of the sampled softmax with accidental hits: graphrec's
``sampled_softmax_loss`` (hits masked outside autograd) against the same loss with the mask
recorded by autograd (what it did before), in one run.

    python benchmarks/softmax_loss.py                      # Gowalla's and LastFM's preset sizes
    python benchmarks/softmax_loss.py --batch 4096 --negatives 1024 --threads 1 --output s.json

Each case is one ``[B, B + N]`` logit matrix (in-batch positives plus ``N`` shared uniform
negatives, logQ-corrected), ``d = 64``, float32. The batch's positives are drawn from a Zipf
popularity over ``--items`` items (exponent 0.8, as ``benchmarks/common.py``), so repeated
items make real accidental hits; the negatives are uniform. Both versions get the same tensors
and must agree (the loss and every gradient, checked before timing). Printed: the median of
``--repeats`` timed calls after two warm-ups, and the ratio recorded / graphrec. One JSON row
per case and version (``library``, ``model``, ``batch``, ``negatives``, ``seconds``,
``speedup``) in ``--output``.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import ZIPF_EXPONENT, timed  # noqa: E402
from graphrec.files import atomic_write_text  # noqa: E402
from graphrec.nn.losses import sampled_softmax_loss  # noqa: E402

DIM = 64


def recorded_mask_loss(query: Tensor, positive: Tensor, negatives: Tensor, *, temperature: float,
                       positive_ids: Tensor, negative_ids: Tensor, log_q_positive: Tensor,
                       log_q_negative: Tensor) -> Tensor:
    """The baseline: the same logits and corrections, the hits masked by an autograd-recorded
    ``masked_fill_`` (whose backward zeroes the masked entries' gradient again)."""
    logits = (query / temperature) @ torch.cat([positive, negatives]).t()
    logits.sub_(torch.cat([log_q_positive, log_q_negative]).unsqueeze(0))
    logits.masked_fill_(accidental_hits(positive_ids, negative_ids), float("-inf"))
    return F.cross_entropy(logits, torch.arange(query.shape[0]))


def accidental_hits(positive_ids: Tensor, negative_ids: Tensor) -> Tensor:
    """``[B, B + N]``: candidates with a row's target id other than the target itself."""
    hit = positive_ids.unsqueeze(1) == torch.cat([positive_ids, negative_ids]).unsqueeze(0)
    hit.diagonal().fill_(False)
    return hit


def make_case(batch: int, negatives: int, items: int, seed: int = 0) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    popularity = torch.arange(1, items + 1, dtype=torch.float64).pow(-ZIPF_EXPONENT)
    positive_ids = torch.multinomial(popularity, batch, replacement=True, generator=generator)
    negative_ids = torch.randint(items, (negatives,), generator=generator)
    frequency = popularity / popularity.sum()
    return {"query": torch.randn(batch, DIM, generator=generator),
            "positive": torch.randn(batch, DIM, generator=generator),
            "negatives": torch.randn(negatives, DIM, generator=generator),
            "positive_ids": positive_ids, "negative_ids": negative_ids,
            "log_q_positive": (batch * frequency[positive_ids]).log().float(),
            "log_q_negative": torch.full((negatives,), math.log(negatives / items))}


def run(loss_fn, case: dict[str, Tensor], temperature: float) -> tuple[Tensor, list[Tensor]]:
    inputs = [case[name].clone().requires_grad_(True)
              for name in ("query", "positive", "negatives")]
    extra = {name: case[name] for name in ("positive_ids", "negative_ids", "log_q_positive",
                                           "log_q_negative")}
    loss = loss_fn(*inputs, temperature=temperature, **extra)
    loss.backward()
    return loss.detach(), [x.grad for x in inputs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[4096, 1024],
                        help="batch sizes (default: the Gowalla and LastFM presets')")
    parser.add_argument("--negatives", type=int, default=1024)
    parser.add_argument("--items", type=int, default=40981, help="catalogue size (Gowalla's)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", default=None, help="JSON rows")
    args = parser.parse_args(argv)
    for name in ("negatives", "items", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1 (got {getattr(args, name)})")
    if min(args.batch) < 1:
        parser.error(f"--batch must be at least 1 (got {min(args.batch)})")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    versions = {"graphrec": sampled_softmax_loss, "recorded_mask": recorded_mask_loss}
    rows = []
    print(f"threads {torch.get_num_threads()}, d {DIM}, N {args.negatives}, "
          f"{args.items} items, median of {args.repeats}")
    for batch in args.batch:
        case = make_case(batch, args.negatives, args.items)
        hits = int(accidental_hits(case["positive_ids"], case["negative_ids"]).sum())
        results = {name: run(fn, case, 1.0) for name, fn in versions.items()}
        loss, grads = results["graphrec"]
        base_loss, base_grads = results["recorded_mask"]
        torch.testing.assert_close(loss, base_loss)
        for got, expected in zip(grads, base_grads, strict=True):
            torch.testing.assert_close(got, expected)
        seconds = {}
        for name, fn in versions.items():
            for _ in range(2):
                run(fn, case, 1.0)
            seconds[name] = statistics.median(
                timed(lambda fn=fn, case=case: run(fn, case, 1.0), device)
                for _ in range(args.repeats))
        speedup = seconds["recorded_mask"] / seconds["graphrec"]
        print(f"B {batch:>5} ({hits} accidental hits): "
              f"graphrec {seconds['graphrec'] * 1e3:.1f} ms, "
              f"recorded mask {seconds['recorded_mask'] * 1e3:.1f} ms, "
              f"ratio {speedup:.2f}x")
        for name in versions:
            rows.append({"library": "graphrec" if name == "graphrec" else "baseline",
                         "model": f"sampled_softmax:{name}", "batch": batch,
                         "negatives": args.negatives, "items": args.items,
                         "threads": torch.get_num_threads(), "accidental_hits": hits,
                         "seconds": seconds[name],
                         "speedup": speedup if name == "graphrec" else 1.0})
    if args.output:
        atomic_write_text(args.output, json.dumps(rows, indent=1))
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
