"""The logQ correction's effect on in-batch sampled softmax (Yi et al., RecSys 2019): the same
two-tower model trained with and without it, HR@50 overall and on the less popular half of the
test targets (issue 18: the correction should lift the less popular half).

    python benchmarks/logq.py --dataset movielens-100k --epochs 30 --output logq.json
    python benchmarks/logq.py --dataset beauty --model youtube_dnn

Leave-one-out (last item test, second last validation), full ranking with training and
validation items masked and used as the input history; fixed ``--epochs`` (no early stopping).
The less popular half: test targets whose training frequency is at most the median training
frequency of all test targets. One JSON row per setting (``hr@50``, ``ndcg@50``, ``hr@10``,
``hr@50_tail``, ``hr@50_head``, ``seconds_per_epoch``), all in ``--output``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402
from graphrec.data import load_dataset  # noqa: E402
from graphrec.experiment import make_split  # noqa: E402
from graphrec.graph.interactions import Interactions  # noqa: E402
from graphrec.graph.ranking import mask_interactions  # noqa: E402
from graphrec.models import build_model  # noqa: E402
from graphrec.train.trainer import TrainConfig, Trainer  # noqa: E402


@torch.no_grad()
def leave_one_out_hits(model, history: list[Interactions], test: Interactions, k: int,
                       batch_size: int = 512) -> tuple[Tensor, Tensor, Tensor]:
    """``(users, target, rank)`` of every test user (one target each; rank 0 = best)."""
    model.eval()
    score = model.scorer_from(history)
    users, targets = test.edge_index
    ranks = []
    for start in range(0, users.numel(), batch_size):
        rows = users[start:start + batch_size]
        scores = mask_interactions(score(rows).float(), rows, history)
        target_scores = scores.gather(1, targets[start:start + batch_size].unsqueeze(1))
        ranks.append((scores > target_scores).sum(1))
    return users, targets, torch.cat(ranks)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens-100k")
    parser.add_argument("--root", default=None)
    parser.add_argument("--model", default="two_tower")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a model hyperparameter (VALUE read as JSON)")
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset, data_root(args.root))
    split = make_split(dataset, "loo")
    train = Interactions.from_graph(split.train)
    history = [train, Interactions.from_graph(split.valid)]
    test = Interactions.from_graph(split.test)
    popularity = train.item_degree()
    settings = {name: json.loads(value) for name, value in
                (item.split("=", 1) for item in args.set)}
    rows = []
    for logq in (True, False):
        torch.manual_seed(args.seed)
        model = build_model(args.model, split.train, logq=logq, **settings)
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             device="cpu", progress=False, seed=args.seed, patience=0)
        start = time.perf_counter()
        Trainer(model, config).fit(train)
        seconds = (time.perf_counter() - start) / args.epochs
        _, targets, ranks = leave_one_out_hits(model, history, test, 50)
        target_pop = popularity[targets]
        tail = target_pop <= target_pop.float().median()
        hit50, hit10 = ranks < 50, ranks < 10
        ndcg50 = torch.where(hit50, 1.0 / torch.log2(ranks.double() + 2), 0.0)
        row = {"library": "graphrec", "model": args.model, "dataset": args.dataset,
               "logq": logq, "epochs": args.epochs, "users": int(targets.numel()),
               "hr@50": float(hit50.double().mean()), "ndcg@50": float(ndcg50.mean()),
               "hr@10": float(hit10.double().mean()),
               "hr@50_tail": float(hit50[tail].double().mean()),
               "hr@50_head": float(hit50[~tail].double().mean()),
               "seconds_per_epoch": seconds}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
