"""NCF (GMF, MLP, NeuMF) next to BPR-MF and LightGCN, leave-one-out, full ranking and the
NCF paper's 1 + 100 sampled protocol (docs/models.md, "Neural collaborative filtering").

    OMP_NUM_THREADS=1 python benchmarks/ncf.py --output ncf.json
    python benchmarks/ncf.py --datasets movielens-100k --seeds 0 --models ncf_gmf

Per data set and seed: the leave-one-out split (MovieLens-100K: each user's latest rating
to test, the one before to validation; LastFM: seeded random artists, it has no times), one
:class:`~graphrec.eval.Evaluator` with ``sampled_negatives=100`` (the same candidates for
every model of a seed), every model trained by the one :class:`~graphrec.train.Trainer`
with its declared ``train_defaults`` and presets (NCF) or the settings below (MF, LightGCN: their
defaults run 300 epochs with patience 50, so they are capped here), early-stopped on
validation NDCG@10, and tested with training and validation items masked.

NeuMF is pretrained: by default it takes the GMF and MLP of the same seed trained just
before (``NeuMF.use_pretrained``: what ``--model neumf`` trains first, with the same settings
except that on LastFM its GMF stage validates every second epoch like the NeuMF run, where the
``ncf_gmf`` row validates every epoch), and its ``seconds`` include theirs;
``--neumf-own-pretraining`` lets the trainer pretrain the parts again (``NeuMF.pretraining``).

Writes a JSON list of rows: library, model, dataset, seed, hr@10, ndcg@10, sampled_hr@10,
sampled_ndcg@10, seconds (training, including NeuMF's pretraining), best_epoch.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402

MODELS = ("ncf_gmf", "ncf_mlp", "neumf", "mf", "lightgcn")
DATASETS = {"movielens-100k": "time", "lastfm": "random"}  # leave-one-out order
#: training settings over the declared defaults of models whose defaults are for long runs
CAPPED = {"mf": {"epochs": 100, "patience": 10, "lr_patience": 5},
          "lightgcn": {"epochs": 100, "patience": 10, "lr_patience": 5}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--root", default=None, help="data folder (default: ../shared/data)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="training time limit per model and seed (default: none; every "
                             "run ends by early stopping or its epoch limit)")
    parser.add_argument("--neumf-own-pretraining", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="write the rows here (JSON)")
    parser.add_argument("--table", nargs="+", default=None, metavar="ROWS.json",
                        help="only print the markdown table (mean ± std over seeds) of "
                             "rows written before")
    return parser.parse_args(argv)


def run_one(dataset, split, name: str, seed: int, args: argparse.Namespace, evaluator,
            parts: dict) -> dict:
    from graphrec.experiment import default_settings, run_experiment
    from graphrec.models import build_model
    from graphrec.train.trainer import TrainConfig, seed_everything

    model_kwargs, train_kwargs = default_settings(name, dataset.name)  # presets included
    settings = {**train_kwargs, **CAPPED.get(name, {}), "metric": "ndcg@10",
                "ks": (10, 20), "seed": seed, "device": args.device, "progress": False,
                "max_seconds": args.max_seconds}
    config = TrainConfig(**settings)
    model, extra_seconds = None, 0.0
    if name == "neumf" and not args.neumf_own_pretraining:
        if "ncf_gmf" not in parts or "ncf_mlp" not in parts:
            raise ValueError("neumf reuses the same seed's ncf_gmf and ncf_mlp: run them "
                             "first (--models ncf_gmf ncf_mlp neumf) or pass "
                             "--neumf-own-pretraining")
        seed_everything(seed)
        model = build_model(name, split.train, **model_kwargs)
        model.use_pretrained(parts["ncf_gmf"][0], parts["ncf_mlp"][0])
        extra_seconds = parts["ncf_gmf"][1] + parts["ncf_mlp"][1]
    start = time.perf_counter()
    trained, results = run_experiment(dataset, split, name, model_kwargs, config,
                                      split_name="loo", evaluator=evaluator, model=model)
    seconds = time.perf_counter() - start
    parts[name] = (trained, results["train_seconds"])
    test = results["test"]
    return {"library": "graphrec", "model": name, "dataset": dataset.name, "seed": seed,
            "hr@10": test["hit@10"], "ndcg@10": test["ndcg@10"],
            "sampled_hr@10": test["sampled_hit@10"], "sampled_ndcg@10": test["sampled_ndcg@10"],
            "seconds": results["train_seconds"] + extra_seconds,
            "best_epoch": results["best_epoch"], "epochs": results["epochs"],
            "wall_seconds": seconds}


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.table:
        rows = [row for path in args.table for row in json.loads(Path(path).read_text())]
        print(markdown_table(rows))
        return rows
    import torch

    from graphrec.data import load_dataset
    from graphrec.eval.evaluator import Evaluator
    from graphrec.experiment import make_split

    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for dataset_name in args.datasets:
        dataset = load_dataset(dataset_name, data_root(args.root))
        for seed in args.seeds:
            split = make_split(dataset, "loo", seed=seed, order=DATASETS[dataset_name])
            evaluator = Evaluator(ks=(10, 20), sampled_negatives=100, sample_seed=seed)
            parts: dict = {}
            for name in args.models:
                row = run_one(dataset, split, name, seed, args, evaluator, parts)
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.output:  # rows so far: a long run that is cut short keeps them
                    Path(args.output).write_text(json.dumps(rows, indent=1) + "\n")
    summarise(rows)
    print(markdown_table(rows))
    return rows


def markdown_table(rows: list[dict]) -> str:
    """One line per (dataset, model): mean ± sample standard deviation over seeds."""
    keys = ("hr@10", "ndcg@10", "sampled_hr@10", "sampled_ndcg@10")
    lines = ["| dataset | model | seeds | HR@10 | NDCG@10 | sampled HR@10 | sampled NDCG@10 "
             "| seconds |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["model"]), []).append(row)
    for (dataset, model), group in groups.items():
        cells = []
        for key in keys:
            values = [r[key] for r in group]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.4f} ± {spread:.4f}")
        seconds = statistics.mean(r["seconds"] for r in group)
        lines.append(f"| {dataset} | `{model}` | {len(group)} | " + " | ".join(cells)
                     + f" | {seconds:.0f} |")
    return "\n".join(lines)


def summarise(rows: list[dict]) -> None:
    """Mean ± standard deviation over seeds per (dataset, model)."""
    keys = ("hr@10", "ndcg@10", "sampled_hr@10", "sampled_ndcg@10", "seconds")
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["model"]), []).append(row)
    for (dataset, model), group in groups.items():
        cells = []
        for key in keys:
            values = [r[key] for r in group]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{key} {statistics.mean(values):.4f} ± {spread:.4f}")
        print(f"{dataset:15s} {model:9s} n={len(group)} " + "  ".join(cells))


if __name__ == "__main__":
    main()
