"""Classic CF and graph filters next to MF and LightGCN, over several split seeds.

    python benchmarks/classic.py --output classic.json
    python benchmarks/classic.py --datasets movielens-100k --models bspm --on valid \\
        --set bspm.sharpen_time=1.0 --set bspm.merge=late

Every run is what ``graphrec train --model M --dataset D --seed S`` runs (the model's declared
defaults and the (model, dataset) preset, through :func:`graphrec.experiment.run`): the
per-user random 80/10/10 split of seed ``S``, training on its training part (models that
select on validation stop on its validation part), full ranking with training (and
validation) items masked. ``--on valid`` scores the validation part instead of the test part
(training items masked, the test part never read), which is how the presets were chosen; a
fixed split whose training file is fitted whole (Gowalla) gets a validation part carved out of
its training file (``--holdout``, 20 % of each user's interactions).

One JSON row per (dataset, model, seed) in ``--output`` (``library``, ``model``, ``dataset``,
``seed``, ``recall@20``, ``ndcg@20``, ``seconds``: training plus scoring); the mean ± standard
deviation over the seeds is printed as a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402

MODELS = ("popularity", "itemknn", "userknn", "ease", "gfcf", "bspm", "ials", "mf", "lightgcn")
DATASETS = ("lastfm", "movielens-100k")
METRICS = ("recall@20", "ndcg@20")


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["bspm.sharpen_time=1.0", ...]`` → ``{"bspm": {"sharpen_time": 1.0}}`` (values
    parsed as JSON when they parse, else kept as strings)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        model, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise SystemExit(f"--set {item!r}: expected MODEL.HYPERPARAMETER=VALUE")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out.setdefault(model, {})[name] = value
    return out


def run_one(dataset_name: str, model: str, seed: int, root: str, on: str,
            hyperparameters: dict[str, Any], holdout: float = 0.2) -> dict[str, Any]:
    from graphrec.experiment import (
        choose_split,
        load_run_dataset,
        make_split,
        resolve_run,
        run_experiment,
    )
    from graphrec.experiment import run as run_config
    from graphrec.graph.split import Split, holdout_validation
    from graphrec.train.trainer import TrainConfig

    config = resolve_run({"model": model, "dataset": dataset_name, "seed": seed,
                          "data": {"root": root}, "hyperparameters": hyperparameters,
                          "train": {"progress": False, "device": "cpu"}})
    if on == "test":
        _, results = run_config(config)
    else:
        dataset = load_run_dataset(config)
        settings = choose_split(config, dataset)
        split = make_split(dataset, settings["name"], seed=settings["seed"],
                           valid_ratio=settings["valid_ratio"], order=settings["order"])
        if split.valid is None:  # a fixed split fitted whole (Gowalla): carve one out
            split = holdout_validation(split, holdout, seed=seed)
        # the validation part scored as if it were the test part; the test part is dropped
        tuning = Split(train=split.train, valid=None, test=split.valid)
        train = TrainConfig(**{k: tuple(v) if k == "ks" else v
                               for k, v in config["train"].items()})
        _, results = run_experiment(dataset, tuning, model, config["hyperparameters"], train)
    row = {"library": "graphrec", "model": model, "dataset": dataset_name, "seed": seed,
           "on": on, "hyperparameters": config["hyperparameters"]}
    row.update({name: results["test"][name] for name in METRICS})
    row["seconds"] = round(results["train_seconds"] + results["test_seconds"], 1)
    row["epochs"] = results["epochs"]
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per model, one column per data set, mean ± std over seeds."""
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    lines = ["| model | " + " | ".join(f"{d} Recall@20 / NDCG@20" for d in datasets) + " |",
             "| --- |" + " --- |" * len(datasets)]
    for model in models:
        cells = []
        for dataset in datasets:
            mine = [row for row in rows if row["model"] == model and row["dataset"] == dataset]
            if not mine:
                cells.append("")
                continue
            parts = []
            for metric in METRICS:
                values = [row[metric] for row in mine]
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                parts.append(f"{statistics.mean(values):.4f} ± {spread:.4f}")
            seconds = statistics.mean(row["seconds"] for row in mine)
            cells.append(" / ".join(parts) + f" ({seconds:.0f} s)")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--on", choices=("test", "valid"), default="test")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.NAME=VALUE",
                        help="hyperparameter override of one model (repeatable)")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="--on valid with a fixed split fitted whole (Gowalla): this share of "
                             "each user's training interactions is the validation part")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--root", default=None, help="data root (default: $GRAPHREC_DATA)")
    parser.add_argument("--output", default=None, help="JSON rows (a list)")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    import torch

    torch.set_num_threads(args.threads)
    root = data_root(args.root)
    rows = []
    for dataset in args.datasets:
        for model in args.models:
            for seed in args.seeds:
                row = run_one(dataset, model, seed, root, args.on, overrides.get(model, {}),
                              args.holdout)
                print(json.dumps(row), flush=True)
                rows.append(row)
                if args.output:
                    from graphrec.files import write_json
                    write_json(args.output, rows)
    print(table(rows))


if __name__ == "__main__":
    main()
