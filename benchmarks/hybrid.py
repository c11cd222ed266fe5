"""Hybrid MF (LightFM-style) on MovieLens-100K: LightFM's own protocol and cold starts,
graphrec's ``hybrid`` beside ``lightfm`` when it is installed (the ``bench`` extra).

    python benchmarks/hybrid.py --output hybrid.json
    python benchmarks/hybrid.py --losses warp,bpr --no-cold

Warm (``ua``): every model trains on ``ua.base`` (every rating is an interaction) and is
measured on ``ua.test`` as LightFM's MovieLens example measures: ``precision@10`` and
``auc`` with the training items left rankable (LightFM's ``precision_at_k`` / ``auc_score``
without ``train_interactions``: a training item in the top 10 is a miss, and AUC is per user
the share of (test item, other item) pairs ordered correctly, averaged over users), and
beside them the usual protocol (training items excluded) as ``masked_precision@10`` /
``masked_auc``. graphrec's rows are ``hybrid_<loss>`` with the ``(hybrid, movielens-100k)``
preset (identity + user age bins, gender, occupation + item genres, release-year bins;
trained by the ``Trainer``, measured by the ``Evaluator``); LightFM's rows are its
example's settings (10 components, Adagrad at 0.05, identity features only, ``--epochs``).

Cold start (``--cold``, on all 100,000 ratings): 10 % of the items (all their
interactions) are held out, and separately 10 % of the users; the models train on the
rest, and ``auc`` is per user over the held-out part: a user's held-out items against the
other held-out items (cold items), or a held-out user's items against all items (cold
users). Three models: ``hybrid`` (identity + features), ``features_only`` (no identity
field) and ``identity_only``; over ``--seeds`` (different held-out sets and
initialisations), reported as mean and standard deviation.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402

DATASET = "movielens-100k"
COLD_MODELS = {"hybrid": {}, "features_only": {"identity": False},
               "identity_only": {"use_features": False}}


def train_hybrid(train_graph, train, seed: int, args: argparse.Namespace, **overrides):
    from graphrec.experiment import default_settings
    from graphrec.models import build_model
    from graphrec.train.trainer import TrainConfig, Trainer, seed_everything

    model_kwargs, train_kwargs = default_settings("hybrid", DATASET)
    model_kwargs.update(overrides)
    if args.epochs is not None:
        train_kwargs["epochs"] = args.epochs
    seed_everything(seed)
    model = build_model("hybrid", train_graph, **model_kwargs)
    config = TrainConfig(**train_kwargs, seed=seed, device=args.device, progress=False)
    start = time.perf_counter()
    Trainer(model, config).fit(train)
    return model, time.perf_counter() - start


def warm_rows(root: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    from graphrec.data import load_movielens_100k
    from graphrec.eval.evaluator import Evaluator
    from graphrec.graph.interactions import Interactions

    dataset = load_movielens_100k(root, download=False, fold="ua")
    train = Interactions.from_graph(dataset.split.train)
    test = Interactions.from_graph(dataset.split.test)
    kept = Evaluator(ks=(10,), metrics=("precision", "auc"), mask_history=False)
    masked = Evaluator(ks=(10,), metrics=("precision", "auc"))
    rows = []
    for loss in args.losses.split(","):
        model, seconds = train_hybrid(dataset.split.train, train, args.seed, args, loss=loss)
        lightfm = kept.evaluate(model, test, exclude=train).metrics
        usual = masked.evaluate(model, test, exclude=train).metrics
        rows.append({"library": "graphrec", "model": f"hybrid_{loss}", "dataset": DATASET,
                     "split": "ua", "precision@10": round(lightfm["precision@10"], 4),
                     "auc": round(lightfm["auc"], 4),
                     "masked_precision@10": round(usual["precision@10"], 4),
                     "masked_auc": round(usual["auc"], 4), "seconds": round(seconds, 2),
                     "embedding_dim": model.embedding_dim})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def lightfm_rows(root: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        from lightfm import LightFM
        from lightfm.evaluation import auc_score, precision_at_k
    except ImportError:
        print("lightfm is not installed: no LightFM rows (pip install --no-deps "
              "lightfm-next==1.19)", file=sys.stderr)
        return []
    import numpy as np
    import scipy.sparse as sp

    def read(name: str):
        table = np.loadtxt(Path(root) / "ml-100k" / name, dtype=np.int64)
        return sp.coo_matrix((np.ones(len(table), dtype=np.float32),
                              (table[:, 0] - 1, table[:, 1] - 1)), shape=(943, 1682)).tocsr()

    train, test = read("ua.base"), read("ua.test")
    rows = []
    epochs = 10 if args.epochs is None else args.epochs
    for loss in [loss for loss in args.losses.split(",") if loss in ("warp", "bpr", "logistic")]:
        model = LightFM(loss=loss, learning_rate=0.05, random_state=args.seed)
        start = time.perf_counter()
        model.fit(train, epochs=epochs, num_threads=1)
        seconds = time.perf_counter() - start
        rows.append({
            "library": "lightfm", "model": f"lightfm_{loss}", "dataset": DATASET, "split": "ua",
            "precision@10": round(float(precision_at_k(model, test, k=10).mean()), 4),
            "auc": round(float(auc_score(model, test).mean()), 4),
            "masked_precision@10": round(float(precision_at_k(
                model, test, train_interactions=train, k=10).mean()), 4),
            "masked_auc": round(float(auc_score(model, test, train_interactions=train).mean()),
                                4),
            "seconds": round(seconds, 2), "embedding_dim": 10, "epochs": epochs})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def cold_auc(model, test, cold_items: torch.Tensor | None, users: torch.Tensor) -> float:
    """Mean per-user AUC of ``test`` over ``users``: among ``cold_items`` when given, else
    among all items."""
    from graphrec.eval.metrics import auc

    model.eval()
    with torch.no_grad():
        scores = model.scorer()(users)
    row, item = test.rows(users)
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[row, item] = True
    if cold_items is not None:
        scores, positive = scores[:, cold_items], positive[:, cold_items]
    value = auc(scores, positive)
    return float(value[~torch.isnan(value)].mean())


def cold_rows(root: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    from graphrec.data import load_movielens_100k
    from graphrec.graph.build import INTERACTS, ITEM, USER
    from graphrec.graph.interactions import Interactions
    from graphrec.graph.split import fixed_split

    graph = load_movielens_100k(root, download=False).graph
    users, items = graph[INTERACTS].edge_index
    results: dict[tuple[str, str], list[float]] = {}
    for seed in range(args.seed, args.seed + args.seeds):
        gen = torch.Generator().manual_seed(seed)
        for kind, node_type, index in (("cold_items", ITEM, items), ("cold_users", USER, users)):
            count = graph[node_type].num_nodes
            held = torch.randperm(count, generator=gen)[: count // 10]
            is_held = torch.zeros(count, dtype=torch.bool)
            is_held[held] = True
            out = is_held[index]
            split = fixed_split(graph, train=(users[~out], items[~out]),
                                test=(users[out], items[out]))
            train = Interactions.from_graph(split.train)
            test = Interactions.from_graph(split.test)
            eval_users = (torch.unique(users[out]) if kind == "cold_items"
                          else torch.sort(held).values)
            for name, overrides in COLD_MODELS.items():
                model, _ = train_hybrid(split.train, train, seed, args, **overrides)
                value = cold_auc(model, test, torch.sort(held).values if kind == "cold_items"
                                 else None, eval_users)
                results.setdefault((kind, name), []).append(value)
                print(f"seed {seed} {kind} {name}: auc {value:.4f}", file=sys.stderr,
                      flush=True)
    rows = []
    for (kind, name), values in results.items():
        rows.append({"library": "graphrec", "model": f"hybrid_warp_{name}", "dataset": DATASET,
                     "split": kind, "auc": round(statistics.mean(values), 4),
                     "auc_std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
                     "seed_auc": [round(v, 4) for v in values]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="data folder holding ml-100k/")
    parser.add_argument("--losses", default="warp,kos_warp,bpr,logistic")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: the preset's (graphrec) and 10 (LightFM)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3, help="cold-start seeds")
    parser.add_argument("--no-warm", action="store_true")
    parser.add_argument("--no-lightfm", action="store_true")
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = data_root(args.root)
    rows: list[dict[str, Any]] = []
    if not args.no_warm:
        rows += warm_rows(root, args)
    if not args.no_lightfm:
        rows += lightfm_rows(root, args)
    if not args.no_cold:
        rows += cold_rows(root, args)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
