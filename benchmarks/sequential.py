"""What mHC residuals cost: training-step time and peak memory of SASRec / TiSASRec with
plain and mHC residuals, as ratios to the plain model measured in the same run.

    OMP_NUM_THREADS=1 python benchmarks/sequential.py --steps 20
    python benchmarks/sequential.py --device cuda --amp     # adds bf16-autocast rows

Each variant runs in its own process (peak resident memory is per process): a fixed batch of
``--batch`` full-length windows (``--maxlen``) over ``--items`` items, full softmax CE,
``--warmup`` untimed steps then ``--steps`` timed ones. Memory is the growth of peak RSS over
the process's RSS after building the model (CPU) or ``torch.cuda.max_memory_allocated``.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import sync  # noqa: E402

#: name -> (model, mHC expansion, implicit Sinkhorn gradient)
VARIANTS = {
    "sasrec": ("sasrec", None, False),
    "sasrec_mhc": ("sasrec", 4, False),
    "sasrec_mhc_implicit": ("sasrec", 4, True),
    "tisasrec": ("tisasrec", None, False),
    "tisasrec_mhc": ("tisasrec", 4, False),
    "tisasrec_mhc_implicit": ("tisasrec", 4, True),
}


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def run_variant(args: argparse.Namespace) -> dict[str, float]:
    from graphrec.graph.sequences import PADDING
    from graphrec.models import SASRec, TiSASRec
    from graphrec.sampling.sequence_batches import SequenceBatch

    device = torch.device(args.device)
    torch.manual_seed(0)
    kind, expansion, implicit = VARIANTS[args.variant]
    model_class = SASRec if kind == "sasrec" else TiSASRec
    model = model_class(args.batch, args.items, embedding_dim=args.dim, maxlen=args.maxlen,
                        num_blocks=args.blocks, mhc_expansion=expansion,
                        sinkhorn_implicit_grad=implicit).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    items = torch.randint(0, args.items, (args.batch, args.maxlen), device=device)
    items[: args.batch // 2, : args.maxlen // 2] = PADDING  # half the rows half empty
    targets = torch.where(items == PADDING, PADDING, (items + 1) % args.items)
    batch = SequenceBatch(torch.arange(args.batch, device=device), items, targets,
                          torch.arange(args.maxlen, device=device),
                          torch.cumsum(torch.ones_like(items), 1))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    base = _rss_bytes()
    seconds = []
    for step in range(args.warmup + args.steps):
        sync(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.amp_run):
            loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        sync(device)
        if step >= args.warmup:
            seconds.append(time.perf_counter() - start)
    memory = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
              else _rss_bytes() - base)
    return {"ms_per_step": 1000 * statistics.median(seconds), "peak_memory_mb": memory / 2**20,
            "parameters": sum(p.numel() for p in model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=None,
                        help="(internal) run one variant and print JSON")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--items", type=int, default=12101)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true",
                        help="CUDA: also time every variant under bfloat16 autocast (as "
                             "TrainConfig(amp=True) trains), as rows '<variant>+amp'")
    parser.add_argument("--amp-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.amp and not args.device.startswith("cuda"):
        parser.error("--amp needs --device cuda (autocast is a no-op elsewhere)")
    if args.variant is not None:
        print(json.dumps(run_variant(args)))
        return
    results = {}
    for amp in (False, True) if args.amp else (False,):
        for variant in VARIANTS:
            command = [sys.executable, str(Path(__file__).resolve()), "--variant", variant]
            for name in ("batch", "maxlen", "items", "dim", "blocks", "steps", "warmup",
                         "device"):
                command += [f"--{name}", str(getattr(args, name))]
            done = subprocess.run(command + (["--amp-run"] if amp else []), cwd=REPO_ROOT,
                                  capture_output=True, text=True, check=True)
            label = f"{variant}+amp" if amp else variant
            results[label] = json.loads(done.stdout.strip().splitlines()[-1])
            print(label, json.dumps(results[label]), file=sys.stderr, flush=True)
    print(f"batch {args.batch} x maxlen {args.maxlen}, {args.items} items, d={args.dim}, "
          f"{args.blocks} blocks, {args.device}, {torch.get_num_threads()} threads")
    print("| variant | ms/step | x plain | peak MB | x plain | parameters |")
    print("|---|---|---|---|---|---|")
    for variant, result in results.items():
        plain = results[VARIANTS[variant.removesuffix("+amp")][0]]  # fp32 plain residuals
        print(f"| {variant} | {result['ms_per_step']:.1f} | "
              f"{result['ms_per_step'] / plain['ms_per_step']:.2f} | "
              f"{result['peak_memory_mb']:.0f} | "
              f"{result['peak_memory_mb'] / max(plain['peak_memory_mb'], 1e-9):.2f} | "
              f"{result['parameters']} |")


if __name__ == "__main__":
    main()
