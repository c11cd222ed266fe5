"""Ranking-metric speed: graphrec's hit-matrix metrics vs torch_geometric.metrics.

Same random top-k rankings and ground truth for all; the 12 metrics Recall, Precision,
NDCG, HitRate, MRR and MAP at K = 10 and 20. Prints seconds per evaluation pass and the
ratio against PyG's ``LinkPredMetricCollection`` (its fastest path: one relevance matrix for
all metrics) measured in the same run, and checks that the values agree.

    python benchmarks/metrics.py --users 20000 --items 20000 --device cpu
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from torch_geometric.metrics import (
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredMetricCollection,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from graphrec.eval.metrics import ranking_metrics
from graphrec.graph.interactions import Interactions

PYG = {"recall": LinkPredRecall, "precision": LinkPredPrecision, "ndcg": LinkPredNDCG,
       "hit": LinkPredHitRatio, "mrr": LinkPredMRR, "map": LinkPredMAP}


def timed(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--relevant", type=int, default=10, help="relevant items per user")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    ks = (10, 20)
    top = torch.randint(0, args.items, (args.users, max(ks)), generator=generator).to(device)
    users = torch.arange(args.users).repeat_interleave(args.relevant)
    items = torch.randint(0, args.items, (users.numel(),), generator=generator)
    # plant some hits so the metrics are not all zero
    items[:: args.relevant] = top[:, 0].cpu()
    target = Interactions(torch.stack([users, items]), args.users, args.items).to(device)
    edge_label_index = target.edge_index

    def ours():
        hits = target.contains(torch.arange(args.users, device=device).view(-1, 1), top)
        values = ranking_metrics(hits, target.user_degree(), ks)
        return {k: v.mean().item() for k, v in values.items()}

    def pyg_collection():
        collection = LinkPredMetricCollection(
            [PYG[name](k) for name in PYG for k in ks]).to(device)
        collection.update(top, edge_label_index)
        return {k: v.item() for k, v in collection.compute().items()}

    def pyg_separate():
        out = {}
        for name, metric in PYG.items():
            for k in ks:
                m = metric(k).to(device)
                m.update(top, edge_label_index)
                out[f"{name}@{k}"] = m.compute().item()
        return out

    reference = pyg_separate()
    mine = ours()
    worst = max(abs(mine[key] - reference[key]) for key in reference)
    rows = []
    t_collection = timed(pyg_collection, args.repeats)
    for name, fn in (("graphrec", ours), ("pyg_collection", pyg_collection),
                     ("pyg_separate", pyg_separate)):
        seconds = t_collection if name == "pyg_collection" else timed(fn, args.repeats)
        rows.append({"impl": name, "users": args.users, "seconds": seconds,
                     "speedup_vs_pyg_collection": t_collection / seconds})
    print(f"{args.users} users x top-{max(ks)}, 12 metrics, device {device}; "
          f"max |graphrec - pyg| = {worst:.2e}")
    print(f"{'implementation':<16}{'seconds':>10}{'vs pyg collection':>20}")
    for row in rows:
        print(f"{row['impl']:<16}{row['seconds']:>10.4f}{row['speedup_vs_pyg_collection']:>19.2f}x")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
