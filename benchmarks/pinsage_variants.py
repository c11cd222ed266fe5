"""One PinSAGE variant on the item-to-item protocol of ``examples/pinsage.py`` (no
baselines, no user or ablation runs): for trying settings one at a time.

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/pinsage_variants.py \\
        --dataset lastfm --model-args '{"output": {"dense_layers": true, "normalize": false}}' \\
        --epochs 40 [--cold]

``--model-args`` is JSON over the model's class defaults (the example's per-data-set
settings are *not* applied); a typed group of PinSAGE's (``inputs``, ``neighborhoods``,
``negatives``, ``objective``, ``output``) is an object of the fields it changes, merged
into the group's defaults field by field (``{"negatives": {"max_hard": 0}}``).

Prints the validation metrics per epoch, the test HR@10 / MRR (over the cold-target queries
with ``--cold``, and over those whose target has features), and, for warm runs, the mean
training degree of the top-10 items.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import pinsage as example  # noqa: E402  (examples/pinsage.py)

import graphrec.train.trainer as trainer_module  # noqa: E402
from graphrec.graph.interactions import Interactions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--dataset", choices=("movielens-100k", "lastfm"), default="lastfm")
    parser.add_argument("--model-args", default="{}")
    parser.add_argument("--train-args", default="{}",
                        help="JSON over the TrainConfig (e.g. weight_decay, metric)")
    parser.add_argument("--seed", type=int, default=0, help="model and trainer seed")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="the example's --seed for the split, queries and cold items")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=1e9)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--no-release-dates", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        stream=sys.stderr)
    trainer_module._format_metrics = lambda m: " ".join(f"{k}={v:.4f}" for k, v in m.items())
    start = time.perf_counter()
    dataset, loo = example.load(args.dataset, args.root, args.split_seed,
                                not args.no_release_dates)
    run_args = example.parse_args(["--dataset", args.dataset, "--seed", str(args.split_seed),
                                   "--quiet", "--no-preset", "--epochs",
                                   str(args.epochs), "--max-seconds", str(args.max_seconds)])
    # class defaults (--no-preset) + --model-args / --train-args only
    split, users, featured, cold = loo, None, None, None
    test = Interactions.from_graph(loo.test)
    if args.cold:
        split, cold = example.hide_items(loo, 0.1, args.split_seed)
        is_cold = torch.zeros(test.num_items, dtype=torch.bool)
        is_cold[cold] = True
        users = test.users[is_cold[test.indices]].unique()
        target = torch.full((test.num_users,), -1, dtype=torch.long)
        target[test.users] = test.indices
        featured = users[example.items_with_features(split.train)[target[users]]]
    extra = json.loads(args.model_args)
    if not isinstance(extra, dict):
        parser.error(f"--model-args must be a JSON object (got {args.model_args!r})")
    train_extra = json.loads(args.train_args)
    # --seed seeds the model and the trainer, --split-seed the split, the queries and the
    # cold items (the example's --seed sets all of them)
    extra.setdefault("seed", args.seed)
    train_extra.setdefault("seed", args.seed)
    result = example.item_to_item(dataset, split, run_args, {"pinsage": ("pinsage", extra)},
                                  test_users=users, featured_users=featured,
                                  cold_items=cold,
                                  train_extra=train_extra)["pinsage"]
    if featured is not None:
        print(f"cold with features: {featured.numel()} queries "
              f"HR@10={result['featured_hr@10']:.4f} MRR={result['featured_mrr']:.4f}")
        print(f"warm-target queries HR@10={result['warm_hr@10']:.4f}; share of cold items "
              f"in all top-10 lists {result['cold_top10_share']:.4f} ({cold.numel()} of "
              f"{test.num_items} items cold)")
    else:
        train = Interactions.from_graph(split.train)
        queries = example.i2i_queries(dataset.name, split.train, train, args.split_seed)
        found = result["model"].similar_items(queries[test.users], k=10)[0].cpu()
        degree = train.item_degree().float()
        print(f"mean training degree of the top-10: {float(degree[found].mean()):.1f} "
              f"(targets: {float(degree[test.indices].mean()):.1f})")
    del result["model"]
    print("RESULT", json.dumps(result), f"total {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
