"""Walk- and sequence-based item embeddings: item2vec, DeepWalk, node2vec, GES and EGES.

The protocol (graphrec.eval.item_embeddings): leave-one-out per user on timestamped events
(MovieLens-100K ratings; LastFM's dated tagging events, one session per user and day),
sessions and the item graph from the training events, 10% of the items removed entirely
(cold start), 1/3 of the remaining item-graph edges held out (link prediction). Every model
is trained by the one Trainer with the skip-gram objective and evaluated on link-prediction
AUC, cold-start AUC (side-information models only: id-only models cannot embed cold items,
reported as absent) and item-to-item HR@10 / NDCG@10 (query: the user's last training item),
next to popularity.

    python examples/item_embeddings.py --root ../shared/data --dataset movielens-100k
    python examples/item_embeddings.py --root ../shared/data --dataset lastfm

Prints the table, five nearest neighbours of three well-known items per model, and writes
the JSON (``models`` → ``auc``, ``cold_auc``, ``hr@10``, ``ndcg@10``, ``train_seconds``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch_geometric.data import HeteroData

from graphrec.data import load_lastfm, load_movielens_100k
from graphrec.eval.item_embeddings import (
    ItemEmbeddingTask,
    evaluate_item_embeddings,
    evaluate_recall,
    prepare_item_embedding_task,
)
from graphrec.experiment import default_settings
from graphrec.graph.build import ITEM, TAGGED
from graphrec.graph.sessions import ONE_DAY, events_as_interactions
from graphrec.graph.side_info import (
    LASTFM_SIDE_INFO,
    MOVIELENS_SIDE_INFO,
    add_lastfm_side_info,
    add_movielens_side_info,
    side_fields,
)
from graphrec.models.popularity import Popularity
from graphrec.models.skipgram import EGES, SkipGram, walk_corpus
from graphrec.sampling.skipgram import SkipGramCorpus
from graphrec.train import TrainConfig, Trainer
from graphrec.train.trainer import seed_everything

MODELS = ("item2vec", "deepwalk", "node2vec", "ges", "eges")
SIDE_INFO_MODELS = ("ges", "eges")
#: three items everyone knows, per data set (matched by name prefix)
FAMOUS = {
    "movielens-100k": ["Star Wars (1977)", "Toy Story (1995)", "Fargo (1996)"],
    "lastfm": ["Madonna", "The Beatles", "Metallica"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="data folder (default $GRAPHREC_DATA)")
    parser.add_argument("--dataset", choices=("movielens-100k", "lastfm"),
                        default="movielens-100k")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", default=None,
                        help="results JSON (default results/item_embeddings_<dataset>.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dim", type=int, default=64)
    # defaults (None): the skip-gram models' declared defaults and data-set presets
    # (graphrec/presets.py), which `graphrec train --model skipgram|eges` uses too
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: the preset (5 on movielens-100k, 2 on lastfm)")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pairs per batch; default: the preset (8192 / 16384)")
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--negatives", type=int, default=None)
    parser.add_argument("--walks-per-node", type=int, default=None)
    parser.add_argument("--walk-length", type=int, default=None,
                        help="default: the preset (20 on movielens-100k, 10 on lastfm)")
    parser.add_argument("--p", type=float, default=None, help="node2vec return parameter")
    parser.add_argument("--q", type=float, default=None, help="node2vec in-out parameter")
    parser.add_argument("--item2vec-mode", choices=("sequence", "set"), default="sequence")
    parser.add_argument("--global-context", action="store_true",
                        help="item2vec on sessions with the session's last item as a global "
                             "context (Airbnb) instead of whole user sequences")
    parser.add_argument("--id-dropout", type=float, default=None,
                        help="EGES/GES: probability of training a centre from side "
                             "information only (0: the paper's EGES)")
    parser.add_argument("--top-tags", type=int, default=30, help="LastFM tags per artist")
    parser.add_argument("--year-bucket", type=int, default=5, help="MovieLens years per bucket")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def load(dataset: str, root: str | None, args: argparse.Namespace
         ) -> tuple[HeteroData, HeteroData, list]:
    """(graph with side information, graph of timestamped events, side fields)."""
    if dataset == "movielens-100k":
        data = load_movielens_100k(root, download=False)
        graph = add_movielens_side_info(data.graph, data.info, year_bucket=args.year_bucket)
        return graph, graph, side_fields(graph, MOVIELENS_SIDE_INFO)
    data = load_lastfm(root, download=False)
    graph = add_lastfm_side_info(data.graph, top_k=args.top_tags)
    # the dated tagging events are LastFM's timestamped interactions (repeats: first date)
    events = events_as_interactions(graph, TAGGED)
    return graph, events, side_fields(graph, LASTFM_SIDE_INFO)


def build(name: str, task: ItemEmbeddingTask, fields: list, args: argparse.Namespace,
          walks: dict) -> SkipGram:
    common = dict(embedding_dim=args.dim, window=args.window, num_negatives=args.negatives)
    if name == "item2vec":
        if args.global_context:
            corpus = SkipGramCorpus.from_sessions(task.train_sessions)
        else:
            corpus = SkipGramCorpus.from_sessions(task.user_sequences())
        return SkipGram(task.num_users, task.num_items, corpus, mode=args.item2vec_mode,
                        global_context=args.global_context, **common)
    second_order = name == "node2vec"
    key = "node2vec" if second_order else "first-order"
    if key not in walks:  # DeepWalk, GES and EGES share the same (BGE, weighted) walks
        walks[key] = walk_corpus(task.train_graph, args.walks_per_node, args.walk_length,
                                 weighted=True, p=args.p if second_order else 1.0,
                                 q=args.q if second_order else 1.0, seed=args.seed)
    corpus = walks[key]
    if name in ("deepwalk", "node2vec"):
        return SkipGram(task.num_users, task.num_items, corpus, **common)
    if name in SIDE_INFO_MODELS:
        return EGES(task.num_users, task.num_items, corpus, fields, attention=name == "eges",
                    id_dropout=args.id_dropout, **common)
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def neighbours(embeddings: torch.Tensor, names: list[str], dataset: str, k: int = 5
               ) -> dict[str, list[str]]:
    emb = F.normalize(embeddings.detach().cpu(), dim=-1)
    out = {}
    for wanted in FAMOUS[dataset]:
        index = next((i for i, n in enumerate(names) if n.startswith(wanted)), None)
        if index is None:
            continue
        similarity = emb @ emb[index]
        similarity[index] = float("-inf")
        top = torch.topk(similarity, k).indices.tolist()
        out[names[index]] = [names[i] for i in top]
    return out


def fill_defaults(args: argparse.Namespace) -> None:
    """Arguments not given take the registered models' defaults and the data set's preset
    (the same for skip-gram and EGES: one corpus and training recipe for all rows)."""
    skipgram, train = default_settings("skipgram", args.dataset)
    eges, _ = default_settings("eges", args.dataset)
    for flag, value in (("epochs", train["epochs"]), ("lr", train["lr"]),
                        ("batch_size", train["batch_size"]), ("window", skipgram["window"]),
                        ("negatives", skipgram["num_negatives"]),
                        ("walks_per_node", skipgram["walks_per_node"]),
                        ("walk_length", skipgram["walk_length"]), ("p", skipgram["p"]),
                        ("q", skipgram["q"]), ("id_dropout", eges["id_dropout"])):
        if getattr(args, flag) is None:
            setattr(args, flag, value)


def fmt(value: float | None) -> str:
    return "absent" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    fill_defaults(args)
    graph, events, fields = load(args.dataset, args.root, args)
    task = prepare_item_embedding_task(events, max_gap=ONE_DAY, seed=args.seed)
    print(f"{args.dataset}: {task.summary()}")
    popularity = Popularity(task.num_users, task.num_items)
    popularity.fit(task.train)
    results: dict[str, dict] = {"popularity": {"auc": None, "cold_auc": None,
                                               **evaluate_recall(popularity, task),
                                               "train_seconds": 0.0}}
    names = [str(n) for n in graph[ITEM].name]
    walks: dict = {}
    shown: dict[str, dict] = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        start = time.perf_counter()
        seed_everything(args.seed)  # the initial weights too, not only training
        model = build(name, task, fields, args, walks)
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             device=args.device, seed=args.seed, progress=not args.quiet)
        Trainer(model, config).fit(task.train)
        seconds = time.perf_counter() - start  # corpus building included
        model.eval()
        with torch.no_grad():
            embeddings = model.item_embeddings()
            cold = model.cold_item_embeddings()
        metrics = evaluate_item_embeddings(embeddings, task, cold_embeddings=cold)
        results[name] = {**metrics, "train_seconds": seconds}
        shown[name] = neighbours(embeddings, names, args.dataset)
        print(f"{name}: {results[name]}", flush=True)

    print(f"\n{args.dataset} (cosine similarity; cold AUC only for side-information models)")
    print(f"| model | AUC | cold AUC | HR@10 | NDCG@10 | train s |\n|{' --- |' * 6}")
    for name, row in results.items():
        print(f"| {name} | {fmt(row['auc'])} | {fmt(row['cold_auc'])} | {row['hr@10']:.4f} "
              f"| {row['ndcg@10']:.4f} | {row['train_seconds']:.1f} |")
    for name, table in shown.items():
        print(f"\nnearest neighbours, {name}:")
        for item, near in table.items():
            print(f"  {item}: {'; '.join(near)}")
    output = Path(args.output or f"results/item_embeddings_{args.dataset}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"dataset": args.dataset, "task": task.summary(),
                                  "settings": vars(args), "models": results,
                                  "neighbours": shown}, indent=2))
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
