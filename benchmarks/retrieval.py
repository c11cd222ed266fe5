"""Retrieval models side by side: graphrec's and torch-rechub's on the same leave-one-out
split, the same item ids and the same full-ranking metrics (HR and NDCG at 10 and 50).

    OMP_NUM_THREADS=1 python benchmarks/retrieval.py --output retrieval.json
    python benchmarks/retrieval.py --datasets beauty --rows graphrec:mind graphrec:mind_k1

Every row is one function of :data:`ROWS`, keyed ``library:model`` (a variant such as
``mind_k1`` is reported under its model name with its settings in ``variant``): it trains on
the split's training part (validation early stopping where the library has it, at most
``--epochs`` epochs and ``--max-seconds`` of training) and returns the test metrics with
the training history as input (training + validation items, masked from the ranking).
torch-rechub rows need ``pip install --no-deps torch-rechub==0.9.0`` (the ``bench``
extra); without it they are skipped with a note. Seconds per epoch are wall-clock on the
machine that ran it: comparable within one run only.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402

KS = (10, 50)


@dataclass
class Task:
    """One data set's split as every row sees it."""

    name: str
    graph: Any  # the full graph (side information, item ids)
    split: Any
    train: Any
    valid: Any
    test: Any


def load_task(name: str, root: str) -> Task:
    from graphrec.data import load_beauty, load_movielens_100k
    from graphrec.graph.interactions import Interactions
    from graphrec.graph.split import leave_one_out

    if name == "beauty":
        dataset = load_beauty(root, download=False)
    elif name == "movielens-100k":
        dataset = load_movielens_100k(root, download=False, side_info=True)
    else:
        raise ValueError(f"unknown dataset {name!r} (beauty, movielens-100k)")
    split = leave_one_out(dataset.graph)
    parts = [Interactions.from_graph(p) for p in (split.train, split.valid, split.test)]
    return Task(name, dataset.graph, split, *parts)


def _metrics(test_metrics: dict[str, float]) -> dict[str, float]:
    return {f"{short}@{k}": float(test_metrics[f"{name}@{k}"]) for k in KS
            for short, name in (("hr", "hit"), ("ndcg", "ndcg"))}


# ------------------------------------------------------------------------------ graphrec
def graphrec_row(model: str, variant: str, overrides: dict[str, Any],
                 per_dataset: dict[str, dict[str, Any]] | None = None
                 ) -> Callable[[Task, argparse.Namespace], dict[str, Any]]:
    """A row training graphrec's registered ``model`` (declared defaults + ``overrides`` +
    ``per_dataset[dataset]``) with the one Trainer, early stopping on validation NDCG@50."""

    def run(task: Task, args: argparse.Namespace) -> dict[str, Any]:
        from graphrec.models import build_model, train_defaults
        from graphrec.train.trainer import TrainConfig, Trainer

        torch.manual_seed(args.seed)
        settings = {**overrides, **(per_dataset or {}).get(task.name, {})}
        if "embedding_dim" not in settings:
            settings["embedding_dim"] = args.dim
        net = build_model(model, task.split.train, **settings)
        defaults = {**train_defaults(model)}
        defaults.update(epochs=args.epochs, eval_every=1, patience=args.patience,
                        metric="ndcg@50", ks=KS, progress=False, seed=args.seed,
                        max_seconds=args.max_seconds, device=args.device)
        trainer = Trainer(net, TrainConfig(**defaults))
        result = trainer.fit(task.train, task.valid)
        test = trainer.evaluate(task.test, exclude=[task.train, task.valid]).metrics
        seconds = [record["seconds"] for record in result.history]
        return {**_metrics(test), "seconds_per_epoch": sum(seconds) / len(seconds),
                "epochs": result.epochs_run, "best_epoch": result.best_epoch,
                "variant": variant, **({"settings": {  # JSON has no inf: "inf"
                    key: value if not isinstance(value, float) or math.isfinite(value)
                    else str(value) for key, value in settings.items()}} if settings else {})}

    return run


# -------------------------------------------------------------------------- torch-rechub
class _Absent(types.ModuleType):
    """Stands in for a dependency torch-rechub imports at module level but whose functions
    these rows never call (pandas, scikit-learn: its data-frame utilities and CTR
    metrics); any name read from it is a function that raises if called."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def absent(*args: Any, **kwargs: Any) -> Any:
            raise ImportError(f"{self.__name__}.{name} is not installed (the benchmark "
                              "does not need it)")

        return absent


def import_rechub() -> None:
    """Makes ``torch_rechub`` importable without pandas / scikit-learn (compiled packages
    that ``pip install --no-deps torch-rechub==0.9.0`` leaves out and that its model code
    does not use): absent ones are replaced by :class:`_Absent` modules."""
    if importlib.util.find_spec("torch_rechub") is None:
        raise ImportError("torch-rechub is not installed: pip install --no-deps "
                          "torch-rechub==0.9.0")
    for top, subs in (("pandas", ()), ("sklearn", ("metrics", "preprocessing",
                                                   "model_selection"))):
        if top in sys.modules or importlib.util.find_spec(top) is not None:
            continue
        sys.modules[top] = _Absent(top)
        for sub in subs:
            sys.modules[f"{top}.{sub}"] = _Absent(f"{top}.{sub}")


def rechub_mind(task: Task, args: argparse.Namespace) -> dict[str, Any]:
    """torch-rechub 0.9.0's MIND (``torch_rechub.models.matching.MIND``) on the same
    split: item ids are graphrec's indices (+1: rechub reserves 0 for padding), the history
    is the same last ``maxlen`` items, trained with its ``MatchTrainer`` in list-wise mode
    (softmax over the positive and ``--rechub-negatives`` popularity-sampled negatives, its
    own recipe), scored by full ranking of every item with graphrec's metrics (the maximum
    over its interests)."""
    import_rechub()
    from torch_rechub.basic.features import SequenceFeature, SparseFeature
    from torch_rechub.models.matching import MIND

    from graphrec.eval.evaluator import Evaluator
    from graphrec.graph.sequences import PADDING, Sequences
    from graphrec.sampling.history_batches import HistoryBatches

    torch.manual_seed(args.seed)
    maxlen, num_items, dim = 50, task.train.num_items, args.dim
    item_feature = SparseFeature("item_id", vocab_size=num_items + 1, embed_dim=dim)
    history_feature = SequenceFeature("hist_item_id", vocab_size=num_items + 1, embed_dim=dim,
                                      pooling="concat", shared_with="item_id")
    neg_feature = SequenceFeature("neg_items", vocab_size=num_items + 1, embed_dim=dim,
                                  pooling="concat", shared_with="item_id")
    # it needs a user feature (its user tower concatenates them to each interest): the
    # user id, the only one every data set has
    user_feature = SparseFeature("user_id", vocab_size=task.train.num_users, embed_dim=dim)
    model = MIND([user_feature], [history_feature], [item_feature], [neg_feature],
                 max_length=maxlen, interest_num=4, temperature=args.rechub_temperature,
                 dynamic_interest=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = HistoryBatches(task.train, maxlen, batch_size=256, seed=args.seed)
    popularity = task.train.item_degree().double().pow(0.75)

    def features(users: torch.Tensor, items: torch.Tensor, targets: torch.Tensor | None,
                 negatives: torch.Tensor | None) -> dict[str, torch.Tensor]:
        padded = torch.full((items.size(0), maxlen), 0, dtype=torch.long)
        shifted = torch.where(items == PADDING, 0, items + 1)
        padded[:, maxlen - items.size(1):] = shifted
        out = {"hist_item_id": padded, "user_id": users}
        if targets is not None:
            out["item_id"] = targets + 1
        if negatives is not None:
            out["neg_items"] = negatives + 1
        return out

    def user_vectors(history_parts: list) -> Callable[[torch.Tensor], torch.Tensor]:
        sequences = Sequences.from_interactions(history_parts)
        # its item tower L2-normalises the item vectors
        table = torch.nn.functional.normalize(model.embedding.embed_dict["item_id"].weight[1:],
                                              dim=-1)

        def score(users: torch.Tensor) -> torch.Tensor:
            items = sequences.window(users, maxlen)
            model.mode = "user"
            feats = features(users, items, None, None)
            interests = model(feats)  # [B, K, d], inactive interests zero
            scores = interests @ table.t()
            active = model.active_interest_mask(feats)  # its K'_u
            return scores.masked_fill(~active.unsqueeze(-1), float("-inf")).amax(1)

        return score

    class Scorer:  # the Evaluator's model interface: scorer_from(history)
        device = torch.device("cpu")

        def scorer_from(self, history):
            return user_vectors(list(history) if isinstance(history, list | tuple)
                                else [history])

    evaluator = Evaluator(ks=KS)
    best, best_state, since, seconds = -1.0, None, 0, []
    start = time.perf_counter()
    for _ in range(args.epochs):
        epoch_start = time.perf_counter()
        model.train()
        for batch in batches:
            negatives = torch.multinomial(popularity, batch.targets.numel() * args.rechub_negatives,
                                          replacement=True).view(-1, args.rechub_negatives)
            model.mode = None
            # its forward stores ``temperature`` but does not apply it to the cosine logits
            logits = model(features(batch.users, batch.items, batch.targets, negatives)
                           ) / model.temperature
            loss = torch.nn.functional.cross_entropy(
                logits, torch.zeros(logits.size(0), dtype=torch.long))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - epoch_start)
        model.eval()
        with torch.no_grad():
            valid = evaluator.evaluate(Scorer(), task.valid, exclude=task.train).metrics
        if valid["ndcg@50"] > best:
            best, since = valid["ndcg@50"], 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
        if since >= args.patience or time.perf_counter() - start > args.max_seconds:
            break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        test = evaluator.evaluate(Scorer(), task.test, exclude=[task.train, task.valid])
    return {**_metrics(test.metrics), "seconds_per_epoch": sum(seconds) / len(seconds),
            "epochs": len(seconds), "variant": "K=4, list-wise softmax"}


#: ``library:row`` -> (library, model label, function)
ROWS: dict[str, tuple[str, str, Callable[[Task, argparse.Namespace], dict[str, Any]]]] = {
    "graphrec:sasrec": ("graphrec", "sasrec", graphrec_row("sasrec", "full softmax CE", {})),
    "graphrec:mind": ("graphrec", "mind", graphrec_row("mind", "K=4", {"num_interests": 4})),
    "graphrec:mind_k1": ("graphrec", "mind", graphrec_row("mind", "K=1",
                                                          {"num_interests": 1})),
    # MovieLens has times: sessions split at gaps of 10 minutes (the paper's rule); Beauty
    # only an order: the session is the last 5 items
    # label-aware attention with p = inf: the training vector is the closest interest, as
    # serving's maximum reads it
    "graphrec:mind_hard": ("graphrec", "mind", graphrec_row(
        "mind", "K=4, p=inf", {"num_interests": 4, "pow_p": float("inf")})),
    "graphrec:sdm": ("graphrec", "sdm", graphrec_row(
        "sdm", "sessions", {}, {"movielens-100k": {"session_gap": 600}})),
    "torch-rechub:mind": ("torch-rechub", "mind", rechub_mind),
}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["beauty", "movielens-100k"])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--root", default=None, help="data folder (default: GRAPHREC_DATA)")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=240.0)
    parser.add_argument("--rechub-negatives", type=int, default=100)
    parser.add_argument("--rechub-temperature", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="JSON file for the rows")
    args = parser.parse_args(argv)
    rows = []
    for dataset in args.datasets:
        task = load_task(dataset, data_root(args.root))
        for key in args.rows:
            library, model, run = ROWS[key]
            try:
                measured = run(task, args)
            except ImportError as error:  # a peer library that is not installed
                print(f"skipped {key} on {dataset}: {error}", file=sys.stderr)
                continue
            row = {"library": library, "model": model, "dataset": dataset, **measured}
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.output:  # written after every row: a long run keeps what it has
                Path(args.output).write_text(json.dumps(rows, indent=1,
                                                        allow_nan=False) + "\n")
    assert all(math.isfinite(r["hr@50"]) for r in rows)
    return rows


if __name__ == "__main__":
    main()
