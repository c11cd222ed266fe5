"""PinSAGE on MovieLens-100K or LastFM: related items, user recommendation, cold items.

Runs with no arguments when the data is at ``$GRAPHREC_DATA`` (or downloadable)::

    python examples/pinsage.py --dataset movielens-100k
    python examples/pinsage.py --root ../shared/data --dataset lastfm \
        --output results/pinsage_lastfm.json

Three experiments, each model trained by the one ``Trainer``:

1. Item-to-item (leave-one-out; MovieLens by time, LastFM a seeded random artist per user;
   the second held-out item validates): query = the user's last training item (LastFM:
   most played training artist); all items but the query are ranked; HR@10 and MRR of
   the held-out item. PinSAGE, its ablations (no hard negatives; hard negatives without the
   curriculum), the Pixie-style random-walk recommender, popularity, LightGCN.
2. User recommendation on the spine's per-user random 80/10/10 split: a PinSAGE user is the
   mean of their training items' embeddings; full-ranking Recall@20 / NDCG@20.
3. Cold items: 10 % of the items (seeded) lose all their training interactions; HR@10 of
   the item-to-item queries whose held-out item is one of them (and, ``cold_featured_*``,
   of those whose cold target has tags or features to be embedded from).

PinSAGE runs with its presets (:mod:`graphrec.presets`, round 3 of docs/pinsage.md: an output
gate and the softmax objective; ``--no-preset``: the class defaults, the paper's model).
MovieLens items also get their release dates as features (the preset's loader option;
``--no-release-dates`` leaves them out).

Prints the tables, one query item's top-5 neighbours by title, and writes the JSON
(``models`` -> ``pinsage``, ``pixie``, ``popularity``, ``lightgcn`` with ``i2i_hr@10``,
``i2i_mrr``, ``recall@20``, ``ndcg@20``, ``train_seconds``; ``ablation``; ``cold``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from graphrec.data import load_lastfm, load_movielens_100k
from graphrec.eval.item_to_item import ItemToItemEvaluator, last_items, top_weighted_items
from graphrec.experiment import default_settings, make_split, merge_settings, run_experiment
from graphrec.graph import INTERACTS, ITEM
from graphrec.graph.build import HAS_TAG
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import Split, leave_one_out, select_edges
from graphrec.models import build_model
from graphrec.models.registry import check_hyperparameters
from graphrec.presets import preset
from graphrec.train import TrainConfig
from graphrec.train.trainer import Trainer, seed_everything

MODELS = ("pinsage", "pixie", "popularity", "lightgcn")
# PinSAGE variants of the ablation rows: model arguments over the defaults (a typed group
# of PinSAGE's, such as ``negatives``, as a table of the fields it changes)
ABLATION: dict[str, dict] = {
    "pinsage": {},
    "pinsage -hard negatives": {"negatives": {"max_hard": 0}},
    "pinsage -curriculum": {"negatives": {"curriculum": False}},
}


# PinSAGE's per-data-set settings (round 3 of docs/pinsage.md: output gate, softmax
# objective; MovieLens release dates) are the presets of graphrec.presets, which
# `graphrec train --model pinsage --dataset D` runs too.
# training-time cap per trained model, seconds ("*": every model not named); keeps each run
# of the example under 15 minutes on 2 CPU cores
MAX_SECONDS: dict[str, dict[str, float]] = {"movielens-100k": {"*": 60.0},
                                            "lastfm": {"*": 90.0, "pinsage": 120.0}}


def load(name: str, root: str | None, seed: int, release_dates: bool = True):
    """The data set and its leave-one-out split (MovieLens by time, LastFM a seeded random
    artist per user). MovieLens items get their release date as extra features
    (``release_dates``): a soft one-hot of 32 Gaussian bumps at date quantiles
    (:func:`~graphrec.graph.features.rbf_encoding`), so that PinSAGE can tell that two movies
    came out close together, which the scaled release year is too coarse to say."""
    if name == "movielens-100k":
        data_kwargs = preset("pinsage", name)["data"] if release_dates else {}
        dataset = load_movielens_100k(root, **data_kwargs)
        return dataset, leave_one_out(dataset.graph, order="time")
    dataset = load_lastfm(root)
    return dataset, leave_one_out(dataset.graph, order="random", seed=seed)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="data folder (default $GRAPHREC_DATA)")
    parser.add_argument("--dataset", choices=("movielens-100k", "lastfm"),
                        default="movielens-100k")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", default=None,
                        help="results JSON (default results/pinsage_<dataset>.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="training-time cap per trained model (default: MAX_SECONDS, "
                             "which keeps the run under 15 minutes on 2 CPU cores)")
    parser.add_argument("--epochs", type=int, default=None, help="override maximum epochs")
    parser.add_argument("--no-ablation", action="store_true", help="skip the ablation rows")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--no-preset", action="store_true",
                        help="PinSAGE with its class defaults (the paper's model), not the "
                             "data set's preset")
    parser.add_argument("--no-release-dates", action="store_true",
                        help="MovieLens: item features without the release-date encoding")
    return parser.parse_args(argv)


def i2i_queries(dataset_name: str, train_graph, train: Interactions, seed: int) -> torch.Tensor:
    """Last training item by time (MovieLens), most played training artist (LastFM)."""
    store = train_graph[INTERACTS]
    if dataset_name == "movielens-100k":
        keys = store.edge_index[0] * train.num_items + store.edge_index[1]
        time_ = torch.zeros(train.num_interactions, dtype=torch.float64)
        time_[torch.searchsorted(train.keys, keys)] = store.time.double()
        return last_items(train, time_)
    return top_weighted_items(train, seed)


def settings(name: str, args: argparse.Namespace) -> tuple[dict, dict]:
    """``(model_kwargs, train_config_kwargs)`` of ``name`` in this example: the library's
    defaults, PinSAGE's per-data-set settings, ``--epochs``, the seed, the device and the
    time cap (``--max-seconds``, else :data:`MAX_SECONDS`)."""
    model_kwargs, train_kwargs = default_settings(name, None if args.no_preset else args.dataset)
    if name == "pinsage":
        model_kwargs["seed"] = args.seed
    if args.epochs is not None and "epochs" in train_kwargs:
        train_kwargs["epochs"] = args.epochs
    caps = MAX_SECONDS[args.dataset]
    cap = args.max_seconds if args.max_seconds is not None else caps.get(name, caps["*"])
    train_kwargs.update({"seed": args.seed, "device": args.device, "progress": not args.quiet,
                         "max_seconds": cap})
    return model_kwargs, train_kwargs


def train_model(name: str, split_train, train: Interactions, valid: Interactions | None,
                evaluator, metric: str, args, model_extra: dict | None = None,
                train_extra: dict | None = None):
    """Builds ``name`` with its defaults (plus ``model_extra``, merged into typed groups
    field by field and checked) and trains it with the one Trainer (``TrainConfig``
    defaults plus ``train_extra``), early-stopping on ``evaluator``'s ``metric``."""
    model_kwargs, train_kwargs = settings(name, args)
    model_kwargs = check_hyperparameters(name, merge_settings(model_kwargs, model_extra or {}))
    train_kwargs.update({"metric": metric, **(train_extra or {})})
    config = TrainConfig(**train_kwargs)
    seed_everything(args.seed)
    model = build_model(name, split_train, **model_kwargs)
    trainer = Trainer(model, config, evaluator=evaluator)
    result = trainer.fit(train, valid)
    return trainer.model, result


def item_to_item(dataset, split: Split, args, names: dict[str, tuple[str, dict]],
                 test_users: torch.Tensor | None = None,
                 featured_users: torch.Tensor | None = None,
                 cold_items: torch.Tensor | None = None,
                 train_extra: dict | None = None) -> dict[str, dict]:
    """Trains each model on ``split.train`` (early stopping on validation MRR@20) and returns
    its item-to-item test metrics (optionally over ``test_users`` only; with
    ``featured_users``, also ``featured_hr@10`` / ``featured_mrr`` over those users; with
    ``cold_items``, also ``warm_hr@10`` over the users whose target is warm and
    ``cold_top10_share``, the share of cold items among all users' top-10 lists: a model
    that lifted every cold item would show it there)."""
    train = Interactions.from_graph(split.train)
    valid = Interactions.from_graph(split.valid)
    test = Interactions.from_graph(split.test)
    queries = i2i_queries(dataset.name, split.train, train, args.seed)
    num_items = train.num_items
    evaluator = ItemToItemEvaluator(queries, ks=(10, 20), metrics=("hit", "mrr"))
    # MRR over the whole ranking: cut-off = catalogue size
    full = ItemToItemEvaluator(queries, ks=(10, num_items), metrics=("hit", "mrr"))
    results = {}
    for label, (name, extra) in names.items():
        model, fit = train_model(name, split.train, train, valid, evaluator, "mrr@20", args,
                                 extra, train_extra)
        metrics = full.evaluate(model, test.to(model.device), users=test_users).metrics
        results[label] = {"i2i_hr@10": metrics["hit@10"],
                          "i2i_mrr": metrics[f"mrr@{num_items}"],
                          "train_seconds": fit.train_seconds, "epochs": fit.epochs_run,
                          "best_epoch": fit.best_epoch, "model": model}
        if featured_users is not None:
            featured = full.evaluate(model, test.to(model.device), users=featured_users).metrics
            results[label]["featured_hr@10"] = featured["hit@10"]
            results[label]["featured_mrr"] = featured[f"mrr@{num_items}"]
        if cold_items is not None:
            is_cold = torch.zeros(num_items, dtype=torch.bool)
            is_cold[cold_items] = True
            target = torch.full((test.num_users,), -1, dtype=torch.long)
            target[test.users] = test.indices
            users = test.users[queries[test.users] >= 0]
            warm_users = users[~is_cold[target[users]]]
            results[label]["warm_hr@10"] = full.evaluate(
                model, test.to(model.device), users=warm_users).metrics["hit@10"]
            results[label]["cold_top10_share"] = cold_share(model, queries[users], is_cold)
        print(f"  {label}: HR@10={metrics['hit@10']:.4f} MRR={metrics[f'mrr@{num_items}']:.4f}"
              f" ({fit.epochs_run} epochs, {fit.train_seconds:.1f}s)", flush=True)
    return results


@torch.no_grad()
def cold_share(model, queries: torch.Tensor, is_cold: torch.Tensor, k: int = 10) -> float:
    """Share of ``is_cold`` items among the top-``k`` items of ``queries`` (query excluded)."""
    model.eval()
    score = model.item_scorer()
    hits, total = 0, 0
    for start in range(0, queries.numel(), 512):
        query = queries[start:start + 512].to(model.device)
        scores = score(query).float().clone()
        scores[torch.arange(query.numel(), device=scores.device), query] = float("-inf")
        top = scores.topk(k, dim=1).indices.cpu()
        hits += int(is_cold[top].sum())
        total += top.numel()
    return hits / max(total, 1)


def hide_items(split: Split, fraction: float, seed: int) -> tuple[Split, torch.Tensor]:
    """``split`` with every training interaction of a seeded ``fraction`` of the items
    removed (validation and test unchanged); returns it and the hidden items."""
    num_items = int(split.train[ITEM].num_nodes)
    generator = torch.Generator().manual_seed(seed + 10)
    cold = torch.randperm(num_items, generator=generator)[: int(round(fraction * num_items))]
    is_cold = torch.zeros(num_items, dtype=torch.bool)
    is_cold[cold] = True
    keep = (~is_cold[split.train[INTERACTS].edge_index[1]]).nonzero().view(-1)
    return Split(select_edges(split.train, keep), split.valid, split.test), cold


def items_with_features(graph) -> torch.Tensor:
    """Boolean per item: has a tag (``('item', 'has_tag', 'tag')``) or a non-zero feature
    row (``graph['item'].x``) -- what a cold item's embedding is made from."""
    num_items = int(graph[ITEM].num_nodes)
    has = torch.zeros(num_items, dtype=torch.bool)
    if HAS_TAG in graph.edge_types:
        has[graph[HAS_TAG].edge_index[0]] = True
    x = graph[ITEM].get("x")
    if x is not None:
        has |= x.abs().sum(1) > 0
    return has


def show_neighbours(dataset, model, query: int) -> list[str]:
    names = dataset.graph[ITEM].get("name")
    found, scores = model.similar_items(torch.tensor([query]), k=5)
    label = (lambda i: names[i]) if names is not None else str
    print(f"\nquery item {query}: {label(query)}")
    lines = []
    for rank, (item, score) in enumerate(zip(found[0].tolist(), scores[0].tolist(),
                                             strict=True), 1):
        lines.append(label(item))
        print(f"  {rank}. {label(item):<45} {score:.3f}")
    return lines


def print_table(title: str, rows: dict[str, dict], columns: list[str]) -> None:
    print(f"\n{title}")
    widths = [max(16, len(c) + 2) for c in columns]
    header = f"{'model':<26}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        cells = "".join(f"{row[c]:>{w}.4f}" if isinstance(row.get(c), float) else
                        f"{str(row.get(c, '')):>{w}}" for c, w in zip(columns, widths, strict=True))
        print(f"{name:<26}{cells}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    start = time.perf_counter()
    dataset, loo = load(args.dataset, args.root, args.seed, not args.no_release_dates)
    print(dataset)

    print("\n[1/3] item-to-item, leave-one-out", flush=True)
    names = {name: (name, {}) for name in MODELS}
    if not args.no_ablation:
        names.update({label: ("pinsage", extra) for label, extra in ABLATION.items()
                      if label != "pinsage"})
    i2i = item_to_item(dataset, loo, args, names)

    print("\n[2/3] user recommendation, random 80/10/10", flush=True)
    split = make_split(dataset, "random", seed=args.seed)
    user_results = {}
    for name in MODELS:
        model_kwargs, train_kwargs = settings(name, args)
        config = TrainConfig(**train_kwargs)
        _, results = run_experiment(dataset, split, name, model_kwargs, config,
                                    split_name="random")
        user_results[name] = results
        print(f"  {name}: recall@20={results['test']['recall@20']:.4f} "
              f"ndcg@20={results['test']['ndcg@20']:.4f} ({results['train_seconds']:.1f}s)",
              flush=True)

    print("\n[3/3] cold items: 10% of items hidden from training", flush=True)
    cold_split, cold_items = hide_items(loo, 0.1, args.seed)
    test = Interactions.from_graph(loo.test)
    is_cold = torch.zeros(test.num_items, dtype=torch.bool)
    is_cold[cold_items] = True
    cold_users = test.users[is_cold[test.indices]].unique()
    # the cold queries whose target has features (tags / genres and year) to embed it from
    has_features = items_with_features(cold_split.train)
    target = torch.full((test.num_users,), -1, dtype=torch.long)
    target[test.users] = test.indices
    featured_users = cold_users[has_features[target[cold_users]]]
    cold = item_to_item(dataset, cold_split, args, {n: (n, {}) for n in MODELS},
                        test_users=cold_users, featured_users=featured_users,
                        cold_items=cold_items)

    models = {name: {"i2i_hr@10": i2i[name]["i2i_hr@10"], "i2i_mrr": i2i[name]["i2i_mrr"],
                     "recall@20": user_results[name]["test"]["recall@20"],
                     "ndcg@20": user_results[name]["test"]["ndcg@20"],
                     "train_seconds": i2i[name]["train_seconds"],
                     "user_train_seconds": user_results[name]["train_seconds"],
                     "cold_i2i_hr@10": cold[name]["i2i_hr@10"],
                     "cold_i2i_mrr": cold[name]["i2i_mrr"],
                     "cold_featured_hr@10": cold[name]["featured_hr@10"],
                     "cold_featured_mrr": cold[name]["featured_mrr"],
                     "cold_split_warm_hr@10": cold[name]["warm_hr@10"],
                     "cold_top10_share": cold[name]["cold_top10_share"]}
              for name in MODELS}
    ablation = {label: {k: v for k, v in row.items() if k != "model"}
                for label, row in i2i.items() if label.startswith("pinsage")}
    title = f"{dataset.name}: item-to-item (leave-one-out, {int(test.user_degree().gt(0).sum())}"
    print_table(title + " queries), user recommendation (random 80/10/10), cold items "
                f"({cold_items.numel()} items, {cold_users.numel()} queries, "
                f"{featured_users.numel()} with a featured target: cold_featured_*)", models,
                ["i2i_hr@10", "i2i_mrr", "recall@20", "ndcg@20", "cold_i2i_hr@10",
                 "cold_i2i_mrr", "cold_featured_hr@10", "cold_split_warm_hr@10",
                 "cold_top10_share", "train_seconds"])
    if len(ablation) > 1:
        print_table("PinSAGE ablation (item-to-item)", ablation,
                    ["i2i_hr@10", "i2i_mrr", "epochs", "best_epoch", "train_seconds"])
    model = i2i["pinsage"]["model"]
    query = int(i2i_queries(dataset.name, loo.train, Interactions.from_graph(loo.train),
                            args.seed)[0])
    neighbours = show_neighbours(dataset, model, query)
    total = time.perf_counter() - start
    print(f"\ntotal time {total:.0f}s")

    output = Path(args.output or f"results/pinsage_{args.dataset}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "dataset": dataset.summary(), "seed": args.seed,
        "max_seconds": (args.max_seconds if args.max_seconds is not None
                        else MAX_SECONDS[args.dataset]),
        "models": models, "ablation": ablation,
        "cold": {"items": int(cold_items.numel()), "queries": int(cold_users.numel()),
                 "featured_queries": int(featured_users.numel()),
                 **{name: {k: v for k, v in row.items() if k != "model"}
                    for name, row in cold.items()}},
        "user_recommendation": {name: {"test": r["test"], "train_seconds": r["train_seconds"],
                                       "epochs": r["epochs"], "best_epoch": r["best_epoch"]}
                                for name, r in user_results.items()},
        "example_query": {"item": query, "top5": neighbours},
        "total_seconds": total,
    }, indent=2))
    print(f"results written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
