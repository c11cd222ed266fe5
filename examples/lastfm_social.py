"""LastFM (HetRec 2011): train recommenders on the user–artist graph and compare them.

Runs with no arguments when the data is at ``$GRAPHREC_DATA`` (or downloadable)::

    python examples/lastfm_social.py
    python examples/lastfm_social.py --root ../shared/data --split sociallgn --seeds 0,1,2

Every model trains with its LastFM preset (``graphrec/presets.py``: the sampled softmax with
early stopping, a minute or two per model on 2 CPU cores; ``--preset none`` for the papers'
BPR recipes). Prints a table of Recall/Precision/NDCG at 10 and 20 (mean ± std over seeds)
and training seconds per model, writes the results JSON and a PNG of validation NDCG@20
against epochs and training seconds, and shows one user's most-played artists next to the
artists recommended to them.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path

import torch

from graphrec.data import load_lastfm, load_lastfm_sociallgn
from graphrec.experiment import default_settings, make_split, run_experiment
from graphrec.files import atomic_write_text
from graphrec.graph import INTERACTS, ITEM, USER
from graphrec.graph.interactions import Interactions
from graphrec.models.lite_eiisrs import SPEC_AS_WRITTEN
from graphrec.models.registry import check_hyperparameters
from graphrec.train import TrainConfig

# Lite-EIISRS with one part toggled per row: (model arguments, trainer settings) over its
# defaults; a typed group (``initial``, ``head``, ...) is a table of the fields it changes.
# "spec as written" is the design document's configuration.
ABLATION: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "-blend": ({"blend": {"mf": 0.0}}, {}),
    "-mf": ({"initial": {"use_mf": False}, "blend": {"mf": 0.0}}, {}),
    "-svd": ({"initial": {"use_svd": False}}, {}),
    "-mf-svd": ({"initial": {"use_mf": False, "use_svd": False}, "blend": {"mf": 0.0}}, {}),
    "+head": ({"head": {"enabled": True}}, {}),
    "+head-attention": ({"head": {"enabled": True}, "fusion": {"use_attention": False}}, {}),
    "+head-features": ({"head": {"enabled": True}, "fusion": {"use_features": False}}, {}),
    "+social": ({"social": {"enabled": True}}, {}),
    "row/last tower": ({"graph_tower": {"normalize": "row", "readout": "last"}}, {}),
    "spec as written": SPEC_AS_WRITTEN,
}

METRICS = ("recall@10", "recall@20", "precision@10", "precision@20", "ndcg@10", "ndcg@20")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None,
                        help="folder laid out like ../shared/data/lastfm (raw/, sociallgn_split/) "
                             "or its parent; default $GRAPHREC_DATA")
    parser.add_argument("--split", choices=("random", "sociallgn"), default="random",
                        help="random: per-user 80/10/10 of the raw data; sociallgn: the "
                             "published SocialLGN split (10%% of training held out to validate)")
    parser.add_argument("--models", default="lite_eiisrs,sociallgn,lightgcn,mf,popularity",
                        help="comma-separated model names")
    parser.add_argument("--epochs", type=int, default=None, help="override the maximum epochs")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="training-time cap per model and seed (0: none); a safety net: "
                             "with the LastFM presets every model stops early on validation "
                             "well before it (docs/lastfm_social.md)")
    parser.add_argument("--preset", choices=("lastfm", "none"), default="lastfm",
                        help="lastfm: each model's LastFM preset (graphrec/presets.py, what "
                             "`graphrec train --dataset lastfm` uses); none: the models' "
                             "declared defaults (the papers' BPR recipes)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", default="results/lastfm_social.json")
    parser.add_argument("--plot", default=None,
                        help="PNG of validation NDCG@20 against epochs and training seconds "
                             "(default: next to --output)")
    parser.add_argument("--ablation", action="store_true",
                        help="run Lite-EIISRS with each part toggled in turn (the table of "
                             "docs/lastfm_social.md) instead of --models")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def print_table(models: dict[str, dict], title: str, key: str = "test") -> None:
    print(f"\n{title}")
    header = f"{'model':<16}" + "".join(f"{m:>17}" for m in METRICS) + f"{'train s':>10}"
    print(header)
    print("-" * len(header))
    for name, summary in models.items():
        metrics = summary[key]
        cells = "".join(f"{metrics[m]['mean']:>10.4f} ±{metrics[m]['std']:.3f}" for m in METRICS)
        print(f"{name:<16}{cells}{summary['train_seconds']['mean']:>10.1f}")


def summarise(results: list[dict]) -> dict:
    """Mean ± std over seeds of every metric (all users and cold users) and of the time."""
    def over(key: str) -> dict[str, dict[str, float]]:
        return {m: mean_std([r[key][m] for r in results]) for m in results[0][key]}

    return {**over("test"), "test": over("test"), "cold": over("test_cold"),
            "cold_users": results[0]["test_cold_users"],
            "train_seconds": mean_std([r["train_seconds"] for r in results]),
            "epochs": [r["epochs"] for r in results]}


def plot_curves(histories: dict[str, list[dict]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is optional
        print("matplotlib not installed: no plot written (pip install graphrec[plot])")
        return
    # Against epochs and against training seconds: the time cap compares models by seconds,
    # and an epoch of SocialLGN costs several of MF's.
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, history in histories.items():
        evaluated = [r for r in history if "valid" in r]
        if evaluated:
            ndcg = [r["valid"]["ndcg@20"] for r in evaluated]
            by_epoch.plot([r["epoch"] for r in evaluated], ndcg, marker=".", label=name)
            by_time.plot([r["elapsed"] for r in evaluated], ndcg, marker=".", label=name)
    by_epoch.set_xlabel("epoch")
    by_time.set_xlabel("training seconds (validation included)")
    by_epoch.set_ylabel("validation NDCG@20")
    fig.suptitle("LastFM: learning curves (first seed)")
    by_time.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def show_user(dataset, split, model, model_name: str, user: int) -> None:
    graph = dataset.graph
    names = graph[ITEM].get("name")
    if names is None:
        return
    train = split.train[INTERACTS]
    own = train.edge_index[1][train.edge_index[0] == user]
    weights = train.edge_weight[train.edge_index[0] == user] if "edge_weight" in train else None
    top_own = own[torch.argsort(weights, descending=True)][:5] if weights is not None else own[:5]
    exclude = Interactions.from_graph(split.train)
    recommended, _ = model.recommend([user], k=5, exclude=exclude)
    raw_user = graph[USER].id_map.raw([user])[0]
    print(f"\nuser {raw_user}: most played artists vs artists recommended by {model_name}")
    for rank in range(5):
        mine = names[int(top_own[rank])] if rank < len(top_own) else ""
        print(f"  {mine:<35} {names[int(recommended[0, rank])]}")


def _capped(results: dict, max_seconds: float) -> bool:
    """Whether training ended at the time cap rather than by early stopping or epochs."""
    config = results["config"]
    return bool(max_seconds) and 0 < results["epochs"] < config["epochs"] and (
        results["best_epoch"] is None
        or results["epochs"] - results["best_epoch"] < config["patience"] * config["eval_every"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.split == "sociallgn":
        dataset, split_mode = load_lastfm_sociallgn(args.root), "fixed"
    else:
        dataset, split_mode = load_lastfm(args.root), "random"
    print(dataset)
    seeds = [int(s) for s in args.seeds.split(",")]
    # (label, model, model arguments, trainer settings) per row of the table
    plan: list[tuple[str, str, dict, dict]] = []
    if args.ablation:
        for label, (model_extra, train_extra) in ABLATION.items():
            # over the model's declared defaults (BPR), the base the ablation table measured
            model_kwargs, train_kwargs = default_settings("lite_eiisrs")
            for key, value in model_extra.items():  # a group's table: only its fields
                model_kwargs[key] = ({**model_kwargs[key], **value} if isinstance(value, dict)
                                     and isinstance(model_kwargs.get(key), dict) else value)
            plan.append((label, "lite_eiisrs", check_hyperparameters("lite_eiisrs", model_kwargs),
                         {**train_kwargs, **train_extra}))
    else:
        for name in (m.strip() for m in args.models.split(",") if m.strip()):
            preset_key = None if args.preset == "none" else dataset.name
            plan.append((name, name, *default_settings(name, preset_key)))
    runs: dict[str, list[dict]] = {label: [] for label, *_ in plan}
    example = None
    for seed in seeds:
        split = make_split(dataset, split_mode, seed=seed)
        for label, name, model_kwargs, train_kwargs in plan:
            if args.epochs is not None:
                train_kwargs = {**train_kwargs, "epochs": args.epochs}
            config = TrainConfig(**train_kwargs, seed=seed, device=args.device,
                                 progress=not args.quiet,
                                 max_seconds=args.max_seconds or None)
            model, results = run_experiment(dataset, split, name, model_kwargs, config,
                                            split_name=args.split)
            runs[label].append(results)
            print(f"seed {seed} {label}: " + " ".join(
                f"{m}={results['test'][m]:.4f}" for m in ("recall@20", "ndcg@20")) +
                f" ({results['epochs']} epochs, best {results['best_epoch']}, "
                f"{results['train_seconds']:.1f}s"
                + (", stopped by --max-seconds" if _capped(results, args.max_seconds) else "")
                + ")")
            if seed == seeds[0] and example is None:
                example = (split, model, label)  # the first model listed

    summary = {name: summarise(results) for name, results in runs.items()}
    print_table(summary, f"LastFM ({args.split} split), test, mean ± std over seeds {seeds}")
    cold_users = next(iter(summary.values()))["cold_users"]
    print_table(summary, f"cold users (≤ 5 training interactions; {cold_users} users)", "cold")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, json.dumps({"split": args.split, "seeds": seeds,
                                          "dataset": dataset.summary(), "models": summary,
                                          "runs": runs}, indent=2))
    print(f"\nresults written to {output}")
    plot_curves({name: results[0]["history"] for name, results in runs.items()},
                Path(args.plot) if args.plot else output.with_suffix(".png"))
    if example is not None:
        split, model, name = example
        show_user(dataset, split, model, name, user=0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
