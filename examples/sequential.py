"""Next-item recommendation: SASRec, TiSASRec and their mHC variants against popularity.

    python examples/sequential.py --root ../shared/data --dataset beauty
    python examples/sequential.py --root ../shared/data --dataset movielens-100k --seeds 0,1,2

Leave-one-out split (per user: last item test, second last validation, the validation item
part of the test input), full ranking over all items with the user's history masked, HR and
NDCG at 5/10/20, plus the SASRec paper's sampled protocol (target + 100 sampled
non-interacted items, reported as ``sampled_*``). Every model trains through the one
Trainer and is scored by the one Evaluator. Prints one table, writes JSON (``--output``) and
a PNG of validation NDCG@10 per epoch (when matplotlib is installed).
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from graphrec.data import load_dataset
from graphrec.eval.evaluator import Evaluator
from graphrec.experiment import default_settings, make_split, run_experiment
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import Split
from graphrec.models import LightGCN, SASRec
from graphrec.models.base import Recommender
from graphrec.models.joint import JointRecommender
from graphrec.nn import ItemEmbedding
from graphrec.train.trainer import TrainConfig, Trainer

#: example name -> (registered model, extra keyword arguments)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "sasrec": ("sasrec", {}),
    "sasrec_mhc": ("sasrec", {"mhc_expansion": 4}),
    "tisasrec": ("tisasrec", {}),
    "tisasrec_mhc": ("tisasrec", {"mhc_expansion": 4}),
    "popularity": ("popularity", {}),
    # the shared item table (docs/sequential.md): SASRec whose items start from a trained
    # LightGCN's item embeddings, and SASRec trained jointly with LightGCN's BPR loss
    "sasrec_warm": ("sasrec", {}),
    "sasrec_joint": ("sasrec", {}),
}
#: data sets whose interactions carry real timestamps (TiSASRec needs them)
TIMED = {"movielens-100k", "lastfm-tags"}
COLUMNS = ["hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "sampled_hr@10",
           "sampled_ndcg@10", "train_seconds", "seconds_per_epoch", "cpu_seconds"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="data folder (e.g. ../shared/data)")
    parser.add_argument("--dataset", choices=("beauty", "movielens-100k", "lastfm-tags"),
                        default="beauty")
    parser.add_argument("--models", default="sasrec,sasrec_mhc,tisasrec,tisasrec_mhc,popularity")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default 200, "
                        "with early stopping on validation NDCG@10)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (mean ± std)")
    parser.add_argument("--blocks", type=int, default=None, help="self-attention blocks")
    parser.add_argument("--maxlen", type=int, default=None, help="input window length")
    parser.add_argument("--loss", choices=("ce", "bce", "sampled_softmax"), default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--dropout", type=float, default=None)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--graph-epochs", type=int, default=30,
                        help="sasrec_warm: LightGCN epochs before SASRec starts")
    parser.add_argument("--joint-weight", type=float, default=0.1,
                        help="sasrec_joint: weight of LightGCN's BPR loss")
    parser.add_argument("--sampled", type=int, default=100,
                        help="negatives of the sampled protocol")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="training time budget per run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", default=None, help="results JSON (PNG next to it)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _row(results: dict[str, Any]) -> dict[str, float]:
    test = results["test"]
    row = {name.replace("hit", "hr"): value for name, value in test.items()
           if name.removeprefix("sampled_").split("@")[0] in ("hit", "ndcg")}
    epochs = max(results["epochs"], 1)
    row["train_seconds"] = results["train_seconds"]
    row["seconds_per_epoch"] = results["train_seconds"] / epochs
    row["cpu_seconds"] = results["cpu_seconds"]
    return row


def _summary(rows: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        out[key] = statistics.fmean(values)
        if len(values) > 1:
            out[f"{key}_std"] = statistics.stdev(values)
    return out


def _format(value: float, std: float | None, seconds: bool) -> str:
    text = f"{value:.1f}" if seconds else f"{value:.4f}"
    if std is not None:
        text += f"±{std:.1f}" if seconds else f"±{std:.4f}"
    return text


def print_table(dataset: str, models: dict[str, dict[str, Any]]) -> None:
    print(f"\n{dataset}: leave-one-out, full ranking (history masked); sampled_* = target "
          "+ 100 sampled items")
    header = ["model"] + COLUMNS
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, result in models.items():
        cells = [name]
        for column in COLUMNS:
            value = result.get(column)
            cells.append("-" if value is None else
                         _format(value, result.get(f"{column}_std"), "seconds" in column))
        print("| " + " | ".join(cells) + " |")


def plot(curves: dict[str, list[tuple[int, float]]], path: Path, title: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, points in curves.items():
        if points:
            epochs, values = (list(column) for column in zip(*points, strict=True))
            axis.plot(epochs, values, label=name)
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation NDCG@10")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def shared_table_model(name: str, split: Split, model_kwargs: dict[str, Any],
                       args: argparse.Namespace, seed: int) -> tuple[Recommender | None, float]:
    """The SASRec of ``sasrec_warm`` / ``sasrec_joint`` built around a shared item table
    (``None`` for the other variants), and the seconds spent training LightGCN first."""
    if name not in ("sasrec_warm", "sasrec_joint"):
        return None, 0.0
    graph_kwargs, graph_train = default_settings("lightgcn", args.dataset)
    graph_kwargs["embedding_dim"] = model_kwargs["embedding_dim"]
    num_items = split.train["item"].num_nodes
    if name == "sasrec_joint":
        table = ItemEmbedding(num_items, model_kwargs["embedding_dim"],
                              model_kwargs.get("init_std"))
        sequence = SASRec.from_graph(split.train, item_embedding=table, **model_kwargs)
        graph = LightGCN.from_graph(split.train, item_embedding=table, **graph_kwargs)
        return JointRecommender(sequence, graph, graph_weight=args.joint_weight), 0.0
    table = ItemEmbedding(num_items, model_kwargs["embedding_dim"])
    graph = LightGCN.from_graph(split.train, item_embedding=table, **graph_kwargs)
    graph_train.update(epochs=args.graph_epochs, metric="ndcg@10", ks=(10,), eval_every=5)
    trainer = Trainer(graph, TrainConfig(**graph_train, seed=seed, device=args.device,
                                         progress=not args.quiet))
    fitted = trainer.fit(Interactions.from_graph(split.train),
                         Interactions.from_graph(split.valid))
    with torch.no_grad():
        table.load_(graph()[1].detach())  # LightGCN's propagated item embeddings
    model = SASRec.from_graph(split.train, item_embedding=table, **model_kwargs)
    return model, fitted.train_seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    dataset = load_dataset(args.dataset, root=args.root)
    split = make_split(dataset, "loo")
    seeds = [int(s) for s in args.seeds.split(",")]
    evaluator_ks = (5, 10, 20)
    models: dict[str, dict[str, Any]] = {}
    curves: dict[str, list[tuple[int, float]]] = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in VARIANTS:
            raise SystemExit(f"unknown model {name!r}; choose from {sorted(VARIANTS)}")
        registered, extra = VARIANTS[name]
        if registered == "tisasrec" and args.dataset not in TIMED:
            print(f"skipping {name}: {args.dataset} has no timestamps (TiSASRec needs them)")
            continue
        rows, runs = [], []
        for seed in seeds:
            if registered == "popularity":
                model_kwargs, train_kwargs = {}, {"metric": "ndcg@10", "ks": evaluator_ks}
            else:
                model_kwargs, train_kwargs = default_settings(registered, args.dataset)
            model_kwargs.update(extra)
            for flag, key, target in (("blocks", "num_blocks", model_kwargs),
                                      ("maxlen", "maxlen", model_kwargs),
                                      ("loss", "loss", model_kwargs),
                                      ("dropout", "dropout", model_kwargs),
                                      ("lr", "lr", train_kwargs),
                                      ("epochs", "epochs", train_kwargs),
                                      ("patience", "patience", train_kwargs)):
                if getattr(args, flag) is not None and registered != "popularity":
                    target[key] = getattr(args, flag)
            config = TrainConfig(**train_kwargs, seed=seed, device=args.device,
                                 progress=not args.quiet, max_seconds=args.max_seconds)
            evaluator = Evaluator(ks=evaluator_ks, metrics=("hit", "ndcg"),
                                  sampled_negatives=args.sampled, sample_seed=seed)
            cpu_start = time.process_time()
            composed, graph_seconds = shared_table_model(name, split, model_kwargs, args, seed)
            model, results = run_experiment(dataset, split, registered, model_kwargs, config,
                                            split_name="loo", evaluator=evaluator,
                                            model=composed)
            # CPU seconds of this process (training + evaluation): the machine's cores may
            # be shared, which inflates wall-clock train_seconds but not this
            results["cpu_seconds"] = time.process_time() - cpu_start
            results["parameters"] = sum(p.numel() for p in model.parameters())
            results["train_seconds"] += graph_seconds  # warm start: LightGCN's time too
            rows.append(_row(results))
            runs.append({"seed": seed, **rows[-1], "best_epoch": results["best_epoch"],
                         "epochs": results["epochs"], "history": results["history"],
                         "model_kwargs": model_kwargs, "parameters": results["parameters"]})
            logging.info("%s seed %d: %s", name, seed, json.dumps(
                {k: round(v, 4) for k, v in rows[-1].items()}))
        models[name] = {**_summary(rows), "parameters": runs[0]["parameters"], "runs": runs}
        curves[name] = [(record["epoch"], record["valid"]["ndcg@10"])
                        for record in runs[0]["history"] if "valid" in record]
    print_table(args.dataset, models)
    report = {"dataset": args.dataset, "split": split.sizes(), "seeds": seeds,
              "threads": torch.get_num_threads(), "models": models}
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2))
        if plot(curves, output.with_suffix(".png"), f"{args.dataset}: validation NDCG@10"):
            print(f"wrote {output} and {output.with_suffix('.png')}")
        else:
            print(f"wrote {output} (matplotlib not installed: no plot)")
    return report


if __name__ == "__main__":
    main()
