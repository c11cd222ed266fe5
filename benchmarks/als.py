"""graphrec's iALS beside ``implicit``'s ``AlternatingLeastSquares``, same objective, same
settings, same evaluation.

    python benchmarks/als.py --dataset gowalla --output als.json
    python benchmarks/als.py --dataset lastfm --factors 128 --solver cholesky
    python benchmarks/als.py --dataset gowalla --protocol valid --libraries graphrec  # tuning

Both minimise Hu, Koren and Volinsky's objective :math:`\\sum_{ui} c_{ui} (p_{ui} -
x_u^\\top y_i)^2 + \\lambda (\\sum \\lVert x_u \\rVert^2 + \\sum \\lVert y_i \\rVert^2)` with
:math:`c_{ui} = 1 + \\alpha r_{ui}` (:math:`r_{ui} = 1` for every training interaction) and
weight 1 on the unobserved entries. In ``implicit`` 0.7's conventions that is: the
user-item matrix holds :math:`1 + \\alpha` at the observed entries and ``alpha=1.0`` (0.7
multiplies the matrix by its ``alpha`` and uses the product itself as :math:`c_{ui}`, so a
matrix of ones with ``alpha=α`` would be :math:`c = α`, not :math:`1 + α`),
``regularization=λ`` (plain, not frequency-scaled), ``factors``, ``iterations``; the solver
is matched too (``--solver cg``: ``use_cg=True`` with ``cg_steps``; ``cholesky``:
``use_cg=False``). graphrec's model: ``IALS(unobserved_weight=1, reg_exponent=0,
weighting="binary")``. ``--tuned`` adds a third row with graphrec's own defaults
(frequency-scaled λ etc.), which ``implicit`` cannot express.

Evaluation: graphrec's :class:`~graphrec.eval.Evaluator` for both (``implicit``'s factors
wrapped in a scorer): full ranking, training items masked, Recall@20 / NDCG@20 on the test
part (``--protocol valid``: on 10 % of each user's training interactions held out, the
model trained on the rest — how the defaults were tuned). ``fit_seconds`` times training only
(CSR views, transposes and sweeps), with ``--threads`` threads for both (torch threads;
``implicit``'s ``num_threads``, its BLAS held to 1 thread as it asks).

Data: ``gowalla`` (LightGCN's split in ``<root>/gowalla``), ``lastfm`` and
``movielens-100k`` (per-user random 80/10/10, seed 0; test masks training and validation).
One JSON row per library on stdout, and all rows in ``--output``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402
from graphrec.eval.evaluator import Evaluator  # noqa: E402
from graphrec.graph.interactions import Interactions  # noqa: E402
from graphrec.graph.split import Split, holdout_validation  # noqa: E402

DATASETS = ("gowalla", "lastfm", "movielens-100k")


class FactorScorer:
    """Scores :math:`U_u V^\\top` from given factor matrices (what the evaluator needs)."""

    def __init__(self, user_factors: np.ndarray | torch.Tensor,
                 item_factors: np.ndarray | torch.Tensor) -> None:
        self.users = torch.as_tensor(np.asarray(user_factors, dtype=np.float32))
        self.items_t = torch.as_tensor(np.asarray(item_factors, dtype=np.float32)).t().contiguous()

    def scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda users: self.users[users.cpu()] @ self.items_t


def load_split(name: str, root: str | None, protocol: str, seed: int) -> Split:
    from graphrec.data import load_dataset
    from graphrec.experiment import make_split

    root = data_root(root)
    if name == "gowalla":
        dataset = load_dataset("lightgcn", root=str(Path(root) / "gowalla"))
        split = make_split(dataset, "fixed", seed=seed, valid_ratio=0.0)
    else:
        split = make_split(load_dataset(name, root=root), "random", seed=seed)
    if protocol == "valid":  # train on the rest of training, evaluate on the held-out 10 %
        inner = holdout_validation(Split(split.train, None, split.test), 0.1, seed=seed)
        return Split(inner.train, None, inner.valid)
    return split


def run_graphrec(train: Interactions, args: argparse.Namespace, tuned: bool
                 ) -> tuple[Any, float, dict[str, Any]]:
    from graphrec.models.ials import IALS

    torch.manual_seed(args.seed)
    settings: dict[str, Any] = {"embedding_dim": args.factors, "iterations": args.iterations}
    if not tuned:
        settings.update(reg_weight=args.regularization, alpha=args.alpha, solver=args.solver,
                        cg_steps=args.cg_steps, unobserved_weight=1.0, reg_exponent=0.0,
                        weighting="binary")
    model = IALS(train.num_users, train.num_items, **settings).to(args.device)
    train = train.to(args.device)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    return model, seconds, settings


def run_implicit(train: Interactions, args: argparse.Namespace) -> tuple[Any, float, dict]:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    confidence = np.full(train.num_interactions, 1.0 + args.alpha, dtype=np.float32)
    matrix = sp.csr_matrix((confidence, train.indices.cpu().numpy(),
                            train.indptr.cpu().numpy()), shape=(train.num_users, train.num_items))
    settings = {"factors": args.factors, "regularization": args.regularization, "alpha": 1.0,
                "iterations": args.iterations, "use_cg": args.solver == "cg",
                "num_threads": args.threads, "random_state": args.seed}
    model = AlternatingLeastSquares(**settings)
    model.cg_steps = args.cg_steps
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        model.fit(matrix, show_progress=False)
        seconds = time.perf_counter() - start
    settings["cg_steps"] = args.cg_steps
    return FactorScorer(model.user_factors, model.item_factors), seconds, settings


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="gowalla")
    parser.add_argument("--root", default=None, help="data folder (default: ../shared/data)")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--regularization", type=float, default=10.0, help="λ")
    parser.add_argument("--alpha", type=float, default=100.0, help="α of c = 1 + α r")
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--solver", choices=("cg", "cholesky"), default="cg")
    parser.add_argument("--cg-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="graphrec's device (implicit: CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocol", choices=("test", "valid"), default="test")
    parser.add_argument("--libraries", default="graphrec,implicit",
                        help="comma-separated: graphrec, implicit")
    parser.add_argument("--tuned", action="store_true",
                        help="also a row with graphrec's IALS defaults (its own settings)")
    parser.add_argument("--output", default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    split = load_split(args.dataset, args.root, args.protocol, args.seed)
    train = Interactions.from_graph(split.train)
    target = Interactions.from_graph(split.test)
    exclude = [train] if split.valid is None else [train, Interactions.from_graph(split.valid)]
    evaluator = Evaluator(ks=(20,), metrics=("recall", "ndcg"))
    runs: list[tuple[str, Callable[[], tuple[Any, float, dict]]]] = []
    for library in args.libraries.split(","):
        if library == "graphrec":
            runs.append(("graphrec", lambda: run_graphrec(train, args, tuned=False)))
        elif library == "implicit":
            runs.append(("implicit", lambda: run_implicit(train, args)))
        else:
            raise SystemExit(f"unknown library {library!r}: graphrec, implicit")
    if args.tuned:
        runs.append(("graphrec", lambda: run_graphrec(train, args, tuned=True)))

    rows = []
    for library, run in runs:
        model, seconds, settings = run()
        device = args.device if library == "graphrec" else "cpu"
        metrics = evaluator.evaluate(model, target.to(device),
                                     exclude=[part.to(device) for part in exclude]).metrics
        row = {"library": library, "model": "ials", "dataset": args.dataset,
               "protocol": args.protocol, "recall@20": round(metrics["recall@20"], 5),
               "ndcg@20": round(metrics["ndcg@20"], 5), "fit_seconds": round(seconds, 3),
               "threads": args.threads, "settings": settings}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
