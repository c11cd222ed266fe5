"""Rating prediction on MovieLens-100K's five official folds: graphrec's FunkSVD beside
``scikit-surprise``'s ``SVD``.

    python benchmarks/ratings.py --output ratings.json
    python benchmarks/ratings.py --models funksvd --folds u1,u2

Every model trains on ``uK.base`` and predicts ``uK.test`` (K = 1..5, the zip's
cross-validation folds: test parts disjoint, 80,000 / 20,000 ratings); RMSE and MAE are over
all test ratings of a fold, then averaged over the folds. Surprise reads the fold files
itself (``Dataset.load_from_folds``, ``Reader("ml-100k")``) and runs ``SVD`` with its
defaults (100 factors, 20 epochs, lr 0.005, reg 0.02, init std 0.1, biased; predictions
clipped to 1-5). graphrec's ``funksvd`` has the same factors and epochs, its own declared
defaults for the rest (Adam; ``graphrec/models/funksvd.py``), is trained by the ``Trainer``
and measured by :class:`~graphrec.eval.ratings.RatingEvaluator` (predictions clipped to the
training range, 1-5). ``seconds``: training time summed over the folds (``--threads``
torch threads; Surprise is single-threaded).

``fm``: graphrec's factorization machine on user + item + side features (identity, age bins,
gender, occupation, genres, release-year bins; ``graphrec/models/fm.py``, its defaults and
``--epochs``; ``--factors`` is FunkSVD's and Surprise's only).

Runners are a dict (``RUNNERS``: name -> (library, model, function)), so another model is
one more entry. One JSON row per model on stdout, all in ``--output``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402

FOLDS = ("u1", "u2", "u3", "u4", "u5")

#: ``(rmse, mae, training seconds)`` of one fold.
FoldResult = tuple[float, float, float]


def run_funksvd(root: str, fold: str, args: argparse.Namespace) -> FoldResult:
    from graphrec.data import load_movielens_100k
    from graphrec.eval.ratings import RatingEvaluator
    from graphrec.experiment import default_settings
    from graphrec.graph.interactions import Interactions
    from graphrec.models import build_model
    from graphrec.train.trainer import TrainConfig, Trainer, seed_everything

    dataset = load_movielens_100k(root, download=False, fold=fold)
    train = Interactions.from_graph(dataset.split.train)
    test = Interactions.from_graph(dataset.split.test)
    model_kwargs, train_kwargs = default_settings("funksvd")
    model_kwargs.update(embedding_dim=args.factors)
    train_kwargs.update(epochs=args.epochs)
    seed_everything(args.seed)
    model = build_model("funksvd", dataset.split.train, **model_kwargs)
    config = TrainConfig(**train_kwargs, seed=args.seed, device=args.device, progress=False)
    evaluator = RatingEvaluator()
    trainer = Trainer(model, config, evaluator=evaluator)
    start = time.perf_counter()
    trainer.fit(train)
    seconds = time.perf_counter() - start
    metrics = trainer.evaluate(test).metrics
    return metrics["rmse"], metrics["mae"], seconds


def run_fm(root: str, fold: str, args: argparse.Namespace) -> FoldResult:
    """graphrec's factorization machine on user + item + side features (identity, age bins,
    gender, occupation, genres, release-year bins), with its declared defaults."""
    from graphrec.data import load_movielens_100k
    from graphrec.eval.ratings import RatingEvaluator
    from graphrec.experiment import default_settings
    from graphrec.graph.interactions import Interactions
    from graphrec.models import build_model
    from graphrec.train.trainer import TrainConfig, Trainer, seed_everything

    dataset = load_movielens_100k(root, download=False, fold=fold)
    train = Interactions.from_graph(dataset.split.train)
    test = Interactions.from_graph(dataset.split.test)
    model_kwargs, train_kwargs = default_settings("fm", "movielens-100k")
    train_kwargs.update(epochs=args.epochs)
    seed_everything(args.seed)
    model = build_model("fm", dataset.split.train, **model_kwargs)
    config = TrainConfig(**train_kwargs, seed=args.seed, device=args.device, progress=False)
    trainer = Trainer(model, config, evaluator=RatingEvaluator())
    start = time.perf_counter()
    trainer.fit(train)
    seconds = time.perf_counter() - start
    metrics = trainer.evaluate(test).metrics
    return metrics["rmse"], metrics["mae"], seconds


def run_surprise_svd(root: str, fold: str, args: argparse.Namespace) -> FoldResult:
    from surprise import SVD, Dataset, Reader, accuracy
    from surprise.model_selection import PredefinedKFold

    folder = Path(root) / "ml-100k"
    data = Dataset.load_from_folds([(str(folder / f"{fold}.base"), str(folder / f"{fold}.test"))],
                                   Reader("ml-100k"))
    trainset, testset = next(PredefinedKFold().split(data))
    algorithm = SVD(n_factors=args.factors, n_epochs=args.epochs, random_state=args.seed)
    start = time.perf_counter()
    algorithm.fit(trainset)
    seconds = time.perf_counter() - start
    predictions = algorithm.test(testset)
    return (accuracy.rmse(predictions, verbose=False), accuracy.mae(predictions, verbose=False),
            seconds)


#: name -> (library, model, runner(root, fold, args)).
RUNNERS: dict[str, tuple[str, str, Callable[[str, str, argparse.Namespace], FoldResult]]] = {
    "funksvd": ("graphrec", "funksvd", run_funksvd),
    "fm": ("graphrec", "fm", run_fm),
    "surprise-svd": ("surprise", "svd", run_surprise_svd),
}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="data folder holding ml-100k/")
    parser.add_argument("--models", default=",".join(RUNNERS),
                        help=f"comma-separated, from {', '.join(RUNNERS)}")
    parser.add_argument("--folds", default=",".join(FOLDS))
    parser.add_argument("--factors", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    root = data_root(args.root)
    folds = args.folds.split(",")
    unknown = sorted(set(args.models.split(",")) - set(RUNNERS))
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}: choose from {sorted(RUNNERS)}")
    rows = []
    for name in args.models.split(","):
        library, model, runner = RUNNERS[name]
        results = [runner(root, fold, args) for fold in folds]
        row = {"library": library, "model": model, "dataset": "movielens-100k",
               "folds": folds,
               "rmse": round(statistics.mean(r[0] for r in results), 4),
               "mae": round(statistics.mean(r[1] for r in results), 4),
               "seconds": round(sum(r[2] for r in results), 2),
               "fold_rmse": [round(r[0], 4) for r in results],
               "factors": 64 if model == "fm" else args.factors, "epochs": args.epochs}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
