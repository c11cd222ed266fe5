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

    def step(batch):
        negatives = torch.multinomial(popularity, batch.targets.numel() * args.rechub_negatives,
                                      replacement=True).view(-1, args.rechub_negatives)
        model.mode = None
        # its forward stores ``temperature`` but does not apply it to the cosine logits
        logits = model(features(batch.users, batch.items, batch.targets, negatives)
                       ) / model.temperature
        return torch.nn.functional.cross_entropy(
            logits, torch.zeros(logits.size(0), dtype=torch.long))

    row = _train_peer(model, optimizer, batches, step, Scorer, task, args)
    return {**row, "variant": "K=4, list-wise softmax"}


def _field_codes(matrix: Any) -> dict[str, torch.Tensor]:
    """Each field of a graphrec :class:`~graphrec.graph.feature_matrix.FeatureMatrix` as one
    categorical code per row, torch-rechub's ``SparseFeature`` input: the row's first column
    in the field + 1 (0: none). A multi-hot field (genres) gives its first value, as
    torch-rechub's MovieLens examples take a movie's first genre as ``cate_id``; a numeric
    one (age) its quantile bin."""
    rows = matrix.row_index()
    out = {}
    for found in matrix.fields:
        inside = (matrix.columns >= found.start) & (matrix.columns < found.start + found.size)
        local = matrix.columns[inside] - found.start + 1
        code = torch.full((matrix.num_rows,), found.size + 1, dtype=torch.long)
        code.scatter_reduce_(0, rows[inside], local, reduce="amin")
        out[found.name] = torch.where(code > found.size, 0, code)
    return out


def _side_codes(task: Task, node_type: str) -> dict[str, torch.Tensor]:
    """``{field: [rows] codes}`` of the training graph's user or item features (none on
    Beauty)."""
    from graphrec.graph.build import ITEM, USER
    from graphrec.graph.feature_matrix import node_feature_matrix

    graph = task.split.train
    side = [r for r in graph.edge_types if r[0] == node_type and r[2] not in (USER, ITEM)]
    if graph[node_type].get("x") is None and not side:
        return {}
    return _field_codes(node_feature_matrix(graph, node_type, identity=False))


def _rechub_fit(model: torch.nn.Module, task: Task, args: argparse.Namespace,
                step: Callable[[Any], torch.Tensor],
                user_vectors: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                item_vectors: Callable[[], torch.Tensor], batch_size: int = 256
                ) -> dict[str, Any]:
    """Trains a torch-rechub two-tower ``model`` on graphrec's training transitions
    (:class:`~graphrec.sampling.history_batches.HistoryBatches`: every (history, next
    item) pair of the training part, as rechub's ``generate_seq_feature_match`` makes
    samples) with Adam (lr 1e-3) and ``step(batch) -> loss``; early stopping on validation
    NDCG@50 as graphrec's rows; test metrics of the best epoch by full ranking of
    ``user_vectors(users, right-aligned history) @ item_vectors().T``."""
    from graphrec.graph.sequences import Sequences
    from graphrec.sampling.history_batches import HistoryBatches

    maxlen = 50
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = HistoryBatches(task.train, maxlen, batch_size=batch_size, seed=args.seed)

    class Scorer:  # the Evaluator's model interface: scorer_from(history)
        device = torch.device("cpu")

        def scorer_from(self, history):
            sequences = Sequences.from_interactions(
                list(history) if isinstance(history, list | tuple) else [history])
            table_t = item_vectors().t()
            return lambda users: user_vectors(users, sequences.window(users, maxlen)) @ table_t

    return _train_peer(model, optimizer, batches, step, Scorer, task, args)


def _train_peer(model: Any, optimizer: Any, batches: Any, step: Any, scorer: Any, task: Any,
                args: argparse.Namespace) -> dict[str, Any]:
    """The torch-rechub rows' loop: ``step(batch) -> loss`` with ``optimizer`` over
    ``batches`` each epoch, validation NDCG@50 after each (``scorer()``: the Evaluator's model
    interface), early stopping with ``args.patience`` and ``args.max_seconds`` as graphrec's
    rows, then test metrics of the best epoch."""
    from graphrec.eval.evaluator import Evaluator

    evaluator = Evaluator(ks=KS)
    best, best_state, best_epoch, since, seconds = -1.0, None, 0, 0, []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        for batch in batches:
            loss = step(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - epoch_start)
        model.eval()
        with torch.no_grad():
            valid = evaluator.evaluate(scorer(), task.valid, exclude=task.train).metrics
        if valid["ndcg@50"] > best:
            best, best_epoch, since = valid["ndcg@50"], epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
        if since >= args.patience or time.perf_counter() - start > args.max_seconds:
            break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        test = evaluator.evaluate(scorer(), task.test, exclude=[task.train, task.valid])
    return {**_metrics(test.metrics), "seconds_per_epoch": sum(seconds) / len(seconds),
            "epochs": len(seconds), "best_epoch": best_epoch, "valid_ndcg@50": best}


def _rechub_inputs(task: Task, args: argparse.Namespace) -> tuple[Any, ...]:
    """torch-rechub's feature objects and input builders on graphrec's indices (+1:
    rechub reserves 0 for padding): the user id, the user's side fields and the
    mean-pooled history (sharing the item id table); the item id and the item's side
    fields."""
    from torch_rechub.basic.features import SequenceFeature, SparseFeature

    from graphrec.graph.build import ITEM, USER
    from graphrec.graph.sequences import PADDING

    maxlen, dim, num_items = 50, args.dim, task.train.num_items
    user_codes, item_codes = _side_codes(task, USER), _side_codes(task, ITEM)
    user_features = [SparseFeature("user_id", vocab_size=task.train.num_users, embed_dim=dim)]
    user_features += [SparseFeature(f"user_{name}", vocab_size=int(code.max()) + 1,
                                    embed_dim=dim) for name, code in user_codes.items()]
    user_features.append(SequenceFeature("hist_item_id", vocab_size=num_items + 1,
                                         embed_dim=dim, pooling="mean",
                                         shared_with="item_id"))
    item_features = [SparseFeature("item_id", vocab_size=num_items + 1, embed_dim=dim)]
    item_features += [SparseFeature(f"item_{name}", vocab_size=int(code.max()) + 1,
                                    embed_dim=dim) for name, code in item_codes.items()]

    def user_inputs(users: torch.Tensor, items: torch.Tensor) -> dict[str, torch.Tensor]:
        padded = torch.zeros((items.size(0), maxlen), dtype=torch.long)
        padded[:, maxlen - items.size(1):] = torch.where(items == PADDING, 0, items + 1)
        out = {"hist_item_id": padded, "user_id": users}
        out.update({f"user_{name}": code[users] for name, code in user_codes.items()})
        return out

    def item_inputs(items: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"item_id": items + 1}
        out.update({f"item_{name}": code[items] for name, code in item_codes.items()})
        return out

    return user_features, item_features, user_inputs, item_inputs


def rechub_dssm(task: Task, args: argparse.Namespace) -> dict[str, Any]:
    """torch-rechub 0.9.0's DSSM (``torch_rechub.models.matching.DSSM``; our
    ``two_tower``): user tower over the user id, the user's side fields (MovieLens: age
    bin, gender, occupation) and the mean-pooled history; item tower over the item id and
    its side fields (first genre, year); both towers its ``MLP`` (``--rechub-dims``, batch
    norm, ReLU) and L2-normalised. Trained as its ``MatchTrainer(in_batch_neg=True)`` does
    (cross-entropy of each example against every target of the batch, the diagonal the
    positive), the logits divided by ``--rechub-temperature`` (its forward stores the
    temperature but does not apply it; raw cosines in [-1, 1] barely train)."""
    import_rechub()
    from torch_rechub.models.matching import DSSM

    torch.manual_seed(args.seed)
    user_features, item_features, user_inputs, item_inputs = _rechub_inputs(task, args)
    params = {"dims": list(args.rechub_dims), "activation": "relu", "dropout": 0.0}
    model = DSSM(user_features, item_features, params, dict(params),
                 temperature=args.rechub_temperature)
    all_items = torch.arange(task.train.num_items)

    def step(batch: Any) -> torch.Tensor:
        model.mode = None
        users = model.user_tower(user_inputs(batch.users, batch.items))
        items = model.item_tower(item_inputs(batch.targets))
        logits = users @ items.t() / args.rechub_temperature
        return torch.nn.functional.cross_entropy(logits, torch.arange(logits.size(0)))

    def user_vectors(users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        model.mode = "user"
        return model(user_inputs(users, items))

    def item_vectors() -> torch.Tensor:
        model.mode = "item"
        return model(item_inputs(all_items))

    measured = _rechub_fit(model, task, args, step, user_vectors, item_vectors)
    return {**measured, "variant": f"in-batch softmax, tau={args.rechub_temperature}"}


def rechub_youtube_dnn(task: Task, args: argparse.Namespace) -> dict[str, Any]:
    """torch-rechub 0.9.0's ``YoutubeDNN``: user tower (its ``MLP``, ``--rechub-dims``)
    over the user id, the user's side fields and the mean-pooled history, L2-normalised;
    the item is its (normalised) id embedding. Trained list-wise as its
    ``MatchTrainer(mode=2)`` does: softmax over the positive and ``--rechub-negatives``
    negatives drawn by popularity^0.75 (its ``negative_sample`` word2vec method), the
    logits divided by its temperature (``--rechub-temperature``)."""
    import_rechub()
    from torch_rechub.basic.features import SequenceFeature
    from torch_rechub.models.matching import YoutubeDNN

    torch.manual_seed(args.seed)
    user_features, item_features, user_inputs, _ = _rechub_inputs(task, args)
    negatives_feature = SequenceFeature("neg_items", vocab_size=task.train.num_items + 1,
                                        embed_dim=args.dim, pooling="concat",
                                        shared_with="item_id")
    model = YoutubeDNN(user_features, item_features[:1], [negatives_feature],
                       {"dims": list(args.rechub_dims), "activation": "relu", "dropout": 0.0},
                       temperature=args.rechub_temperature)
    popularity = task.train.item_degree().double().pow(0.75)

    def step(batch: Any) -> torch.Tensor:
        negatives = torch.multinomial(popularity, batch.targets.numel() * args.rechub_negatives,
                                      replacement=True).view(-1, args.rechub_negatives)
        model.mode = None
        inputs = user_inputs(batch.users, batch.items)
        inputs.update(item_id=batch.targets + 1, neg_items=negatives + 1)
        logits = model(inputs)
        return torch.nn.functional.cross_entropy(
            logits, torch.zeros(logits.size(0), dtype=torch.long))

    def user_vectors(users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        model.mode = "user"
        return model(user_inputs(users, items))

    def item_vectors() -> torch.Tensor:
        return torch.nn.functional.normalize(
            model.embedding.embed_dict["item_id"].weight[1:], dim=-1)

    measured = _rechub_fit(model, task, args, step, user_vectors, item_vectors)
    return {**measured, "variant": f"list-wise softmax, {args.rechub_negatives} negatives"}


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
    "graphrec:two_tower": ("graphrec", "two_tower", graphrec_row(
        "two_tower", "in-batch softmax, logQ, side features", {})),
    # MovieLens has real timestamps: YouTube DNN's example age (0 at serving)
    "graphrec:youtube_dnn": ("graphrec", "youtube_dnn", graphrec_row(
        "youtube_dnn", "sampled softmax, logQ", {}, {"movielens-100k": {"example_age": True}})),
    "graphrec:item2vec": ("graphrec", "item2vec", graphrec_row(
        "skipgram", "item2vec (user sequences)", {"corpus": "sequences"})),
    "torch-rechub:mind": ("torch-rechub", "mind", rechub_mind),
    "torch-rechub:two_tower": ("torch-rechub", "two_tower", rechub_dssm),
    "torch-rechub:youtube_dnn": ("torch-rechub", "youtube_dnn", rechub_youtube_dnn),
}

COLUMNS = ("hr@10", "ndcg@10", "hr@50", "ndcg@50", "seconds_per_epoch", "epochs")


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table, one line per row."""
    head = f"{'dataset':<15} {'library':<13} {'model':<12} {'variant':<38}" + "".join(
        f" {c.replace('seconds_per_epoch', 's/epoch'):>8}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for row in rows:
        values = "".join(f" {row.get(c, float('nan')):>8.4f}" if c.startswith(("hr", "ndcg"))
                         else f" {row.get(c, float('nan')):>8.1f}" if c != "epochs"
                         else f" {row.get(c, 0):>8d}" for c in COLUMNS)
        lines.append(f"{row['dataset']:<15} {row['library']:<13} {row['model']:<12} "
                     f"{str(row.get('variant', ''))[:38]:<38}{values}")
    return "\n".join(lines)


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
    parser.add_argument("--rechub-dims", type=int, nargs="+", default=[256, 128, 64],
                        help="torch-rechub towers' MLP widths (the last is the output)")
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
    print(table(rows))
    assert all(math.isfinite(r["hr@50"]) for r in rows)
    return rows


if __name__ == "__main__":
    main()
