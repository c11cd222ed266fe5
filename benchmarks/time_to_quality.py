"""Time to quality: test Recall@20 / NDCG@20 against wall-clock seconds, for the paper's
training recipe and graphrec's defaults, in one run.

    python benchmarks/time_to_quality.py --datasets lastfm --output ttq.json
    python benchmarks/time_to_quality.py --datasets gowalla --models lightgcn mf \\
        --budget 1800 --output ttq_gowalla.json
    python benchmarks/time_to_quality.py --datasets gowalla --models lightgcn \\
        --budget paper=1200 --output ttq_gowalla_lightgcn.json

Recipes (``--recipes``):

- ``paper``: the papers' setup as graphrec ran it before its softmax defaults: BPR with one
  uniform negative per pair, batch 2048, Adam at 5e-3 with plateau decay, early stopping on a
  validation carve-out (``graphrec train ... --set loss=bpr`` with these training settings).
- ``default``: what ``graphrec train --model M --dataset D`` runs now (the model's declared
  defaults and the ``(model, dataset)`` preset).

Every run is :func:`graphrec.experiment.run` with ``monitor_test``: the test set is scored
every ``eval_every`` epochs for the curve only (it selects nothing; its time is not counted).
``--budget`` caps each run's training seconds (``max_seconds``): one number is the same cap
for every recipe; ``RECIPE=SECONDS`` caps that recipe alone (``--budget paper=1200`` lets the
default run to its own end beside a paper run cut at 20 minutes). One JSON row per curve
point (``library``, ``model``, ``dataset``, ``recipe``, ``epoch``, ``seconds``, ``recall@20``,
``ndcg@20``) and one ``"point": "final"`` row per run (the test metrics of the weights the run
ends with, and its total wall clock); a PNG of
test Recall@20 against seconds beside ``--output``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402

# graphrec's LightGCN/MF training before the softmax defaults (stop 21's train_defaults)
PAPER_RECIPE: dict[str, dict[str, Any]] = {
    "hyperparameters": {"loss": "bpr", "num_negatives": 1},
    "train": {"lr": 5e-3, "batch_size": 2048, "epochs": 1000, "eval_every": 1,
              "patience": 50, "lr_decay": 0.5, "lr_patience": 10},
    "split": {"valid_ratio": 0.1},
}
METRICS = ("recall@20", "ndcg@20")


def recipe_config(recipe: str, model: str, dataset: str, root: str, seed: int,
                  budget: float | None) -> dict[str, Any]:
    config: dict[str, Any] = {"model": model, "dataset": dataset, "seed": seed,
                              "data": {"root": root},
                              "train": {"progress": False, "device": "cpu"}}
    if recipe == "paper":
        config["preset"] = "none"
        for section, values in PAPER_RECIPE.items():
            config.setdefault(section, {}).update(values)
    elif recipe != "default":
        raise SystemExit(f"unknown recipe {recipe!r}: expected paper or default")
    if budget:
        config["train"]["max_seconds"] = budget
    return config


def run_recipe(recipe: str, model: str, dataset: str, root: str, seed: int,
               budget: float | None) -> list[dict[str, Any]]:
    from graphrec.experiment import run

    config = recipe_config(recipe, model, dataset, root, seed, budget)
    start = time.perf_counter()
    _, results = run(config, monitor_test=True)
    wall = time.perf_counter() - start
    label = {"library": "graphrec", "model": model, "dataset": dataset, "recipe": recipe,
             "seed": seed}
    rows = []
    for record in results["history"]:
        # "elapsed": training seconds so far, validation included, the monitor's not
        if "monitor" in record:
            rows.append({**label, "point": "curve", "epoch": record["epoch"],
                         "seconds": round(record["elapsed"], 2),
                         **{m: record["monitor"][m] for m in METRICS}})
    rows.append({**label, "point": "final", "epochs": results["epochs"],
                 "best_epoch": results["best_epoch"],
                 "train_seconds": round(results["train_seconds"], 2),
                 "wall_seconds": round(wall, 2),
                 "stopped_by_budget": bool(budget) and results["train_seconds"] >= budget,
                 **{m: results["test"][m] for m in METRICS},
                 "settings": {"hyperparameters": results["config"]["hyperparameters"],
                              "train": results["config"]["train"]}})
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        runs = sorted({(r["model"], r["recipe"]) for r in rows if r["dataset"] == dataset})
        for model, recipe in runs:
            curve = [r for r in rows if r["dataset"] == dataset and r["model"] == model
                     and r["recipe"] == recipe and r["point"] == "curve"]
            ax.plot([r["seconds"] for r in curve], [r["recall@20"] for r in curve],
                    marker=".", label=f"{model} ({recipe})")
        ax.set_title(dataset)
        ax.set_xlabel("training seconds (validation included)")
        ax.set_ylabel("test Recall@20")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_budgets(values: list[str], recipes: list[str]) -> dict[str, float | None]:
    """``--budget`` words: ``SECONDS`` for every recipe, or ``RECIPE=SECONDS`` for one."""
    budgets: dict[str, float | None] = dict.fromkeys(recipes)
    for value in values:
        recipe, _, seconds = value.rpartition("=")
        if recipe and recipe not in budgets:
            raise SystemExit(f"--budget {value}: unknown recipe {recipe!r}: expected one of "
                             f"{', '.join(recipes)}")
        try:
            cap = float(seconds)
        except ValueError:
            raise SystemExit(f"--budget {value}: expected SECONDS or RECIPE=SECONDS") from None
        if cap <= 0:
            raise SystemExit(f"--budget {value}: the seconds must be positive")
        for name in ([recipe] if recipe else recipes):
            budgets[name] = cap
    return budgets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["lastfm"])
    parser.add_argument("--models", nargs="+", default=["lightgcn", "mf"])
    parser.add_argument("--recipes", nargs="+", default=["paper", "default"])
    parser.add_argument("--budget", nargs="+", default=[], metavar="[RECIPE=]SECONDS",
                        help="training seconds per run: SECONDS for every recipe, "
                             "RECIPE=SECONDS for one (e.g. paper=1200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=None, help="data folder (default $GRAPHREC_DATA)")
    parser.add_argument("--output", default="time_to_quality.json")
    args = parser.parse_args(argv)
    from graphrec.files import atomic_write_text

    budgets = parse_budgets(args.budget, args.recipes)  # argument errors before the data
    root = data_root(args.root)
    rows: list[dict[str, Any]] = []
    output = Path(args.output)
    for dataset in args.datasets:
        for model in args.models:
            for recipe in args.recipes:
                found = run_recipe(recipe, model, dataset, root, args.seed, budgets[recipe])
                rows += found
                final = found[-1]
                print(f"{dataset:>8} {model:>9} {recipe:>8}: recall@20 {final['recall@20']:.4f}"
                      f" ndcg@20 {final['ndcg@20']:.4f} epochs {final['epochs']}"
                      f" train {final['train_seconds']:.0f}s wall {final['wall_seconds']:.0f}s"
                      f"{' (budget)' if final['stopped_by_budget'] else ''}", flush=True)
                atomic_write_text(output, json.dumps(rows, indent=1))
    plot(rows, output.with_suffix(".png"))
    print(f"wrote {output} and {output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
