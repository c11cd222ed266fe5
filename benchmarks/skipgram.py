r"""Skip-gram speed and quality: graphrec's SGNS (through the one Trainer) against gensim's
``Word2Vec`` on the same walks.

Both train skip-gram with negative sampling (``--window``, ``--negatives``, subsampling
``1e-3``, noise exponent 0.75, ``--dim``, ``--epochs``) on one corpus: weighted (BGE) walks
on the training item graph of the item-embedding protocol (:mod:`graphrec.eval.item_embeddings`,
MovieLens-100K or LastFM). Reported per backend: training seconds, corpus tokens per second
(exact for both), pairs per second (graphrec counts its pairs; gensim draws the same
expected number with the same dynamic window and subsampling, so its figure uses
graphrec's count), and the link-prediction AUC of the resulting item vectors. ``ratio``:
gensim time / graphrec time (above 1: graphrec is faster).

gensim is optional (``pip install graphrec[gensim]``); without it only graphrec runs.
CPU timings need a quiet machine; ``--threads`` sets torch's and gensim's worker threads.

    python benchmarks/skipgram.py --dataset movielens-100k --threads 1 --output sgns.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import data_root  # noqa: E402
from graphrec.data import load_lastfm, load_movielens_100k  # noqa: E402
from graphrec.eval.item_embeddings import (  # noqa: E402
    auc,
    pair_scores,
    prepare_item_embedding_task,
)
from graphrec.graph.build import TAGGED  # noqa: E402
from graphrec.graph.sessions import events_as_interactions  # noqa: E402
from graphrec.models.skipgram import SkipGram, walk_corpus  # noqa: E402
from graphrec.sampling.skipgram import SkipGramBatches  # noqa: E402
from graphrec.train import TrainConfig, Trainer  # noqa: E402
from graphrec.train.trainer import seed_everything  # noqa: E402


def events_graph(dataset: str, root: str):
    if dataset == "movielens-100k":
        return load_movielens_100k(root, download=False).graph
    return events_as_interactions(load_lastfm(root, download=False).graph, TAGGED)


def link_auc(embeddings: torch.Tensor, task) -> float:
    return auc(pair_scores(embeddings, task.test_pos), pair_scores(embeddings, task.test_neg))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--dataset", choices=("movielens-100k", "lastfm"),
                        default="movielens-100k")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--walks-per-node", type=int, default=10)
    parser.add_argument("--walk-length", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="JSON rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    task = prepare_item_embedding_task(events_graph(args.dataset, data_root(args.root)))
    corpus = walk_corpus(task.train_graph, args.walks_per_node, args.walk_length, seed=0)
    sampling = dict(window=args.window, num_negatives=args.negatives, subsample=1e-3)
    # the pairs graphrec trains on: the same seeds give the same epochs as in the Trainer
    counter = SkipGramBatches(corpus, batch_size=args.batch_size, seed=0, **sampling)
    pairs = sum(len(batch) for _ in range(args.epochs) for batch in counter)
    tokens = corpus.num_occurrences * args.epochs
    rows = []

    seed_everything(0)
    model = SkipGram(task.num_users, task.num_items, corpus, embedding_dim=args.dim,
                     **sampling)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         device=args.device, seed=0, progress=False)
    start = time.perf_counter()
    Trainer(model, config).fit(task.train)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        rows.append({"backend": "graphrec", "device": args.device, "seconds": seconds,
                     "tokens_per_s": tokens / seconds, "pairs_per_s": pairs / seconds,
                     "auc": link_auc(model.item_embeddings().cpu(), task)})

    try:
        from gensim.models import Word2Vec
    except ImportError:
        print("gensim is not installed (pip install graphrec[gensim]): graphrec only")
        Word2Vec = None
    if Word2Vec is not None:
        sequence = corpus.sequence.tolist()
        words = corpus.tokens.tolist()
        sentences, current, last = [], [], None
        for seq, word in zip(sequence, words, strict=True):  # corpus preparation, not timed
            if seq != last and current:
                sentences.append(current)
                current = []
            current.append(str(word))
            last = seq
        if current:
            sentences.append(current)
        w2v = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negatives,
                       sg=1, hs=0, sample=1e-3, ns_exponent=0.75, min_count=1,
                       workers=args.threads, seed=0)
        w2v.build_vocab(sentences)
        start = time.perf_counter()
        w2v.train(sentences, total_examples=len(sentences), epochs=args.epochs)
        gensim_seconds = time.perf_counter() - start
        vectors = torch.zeros(task.num_items, args.dim)
        index = [int(key) for key in w2v.wv.index_to_key]
        vectors[index] = torch.from_numpy(w2v.wv.vectors.copy())
        rows.append({"backend": "gensim", "device": "cpu", "seconds": gensim_seconds,
                     "tokens_per_s": tokens / gensim_seconds,
                     "pairs_per_s": pairs / gensim_seconds, "auc": link_auc(vectors, task)})
        rows[-1]["ratio"] = gensim_seconds / seconds

    print(f"{args.dataset}: {corpus.num_occurrences:,} walk tokens, {pairs:,} pairs over "
          f"{args.epochs} epochs, {args.threads} thread(s)")
    print("| backend | seconds | tokens/s | pairs/s | link-prediction AUC |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['backend']} | {row['seconds']:.1f} | {row['tokens_per_s']:,.0f} | "
              f"{row['pairs_per_s']:,.0f} | {row['auc']:.4f} |")
    if len(rows) == 2:
        print(f"gensim time / graphrec time: {rows[1]['ratio']:.2f}")
    if args.output:
        Path(args.output).write_text(json.dumps(
            [{**row, "dataset": args.dataset, "threads": args.threads, "epochs": args.epochs,
              "pairs": pairs, "tokens": tokens} for row in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
