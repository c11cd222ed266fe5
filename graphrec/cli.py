"""Command line: ``python -m graphrec train --model lightgcn --dataset lastfm --root DIR``."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from graphrec.experiment import SPLITS, default_settings, make_split, run_experiment
from graphrec.models import MODELS
from graphrec.train.trainer import TrainConfig

DATASETS = ("lastfm", "lastfm-sociallgn", "lightgcn", "movielens-100k", "tsv")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphrec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train and test one model; write results JSON")
    train.add_argument("--model", choices=sorted(MODELS), required=True)
    train.add_argument("--dataset", choices=DATASETS, required=True)
    train.add_argument("--root", default=None,
                       help="data folder (default: $GRAPHREC_DATA, else ~/.graphrec/data)")
    train.add_argument("--path", default=None, help="file to read with --dataset tsv")
    train.add_argument("--delimiter", default="\t", help="column delimiter for --dataset tsv")
    train.add_argument("--header", action="store_true", help="--dataset tsv: skip a header line")
    train.add_argument("--has-weight", action="store_true",
                       help="--dataset tsv: the third column is a weight")
    train.add_argument("--has-time", action="store_true",
                       help="--dataset tsv: the next column is an integer timestamp")
    train.add_argument("--split", choices=SPLITS, default="auto",
                       help="auto: the source's fixed split if it has one, else random 80/10/10")
    train.add_argument("--valid-ratio", type=float, default=0.1,
                       help="validation (and test) share of random/temporal splits; share of "
                            "training held out for validation on fixed splits without one")
    train.add_argument("--seed", type=int, default=0)
    hyper = train.add_argument_group("hyperparameters (defaults depend on the model)")
    hyper.add_argument("--dim", type=int, help="embedding size")
    hyper.add_argument("--layers", type=int, help="LightGCN layers")
    hyper.add_argument("--normalize", choices=("sym", "row"), help="LightGCN normalisation")
    hyper.add_argument("--alpha", type=float, help="LightGCN residual weight to layer 0")
    hyper.add_argument("--reg", type=float, help="L2 weight on batch embeddings")
    hyper.add_argument("--lr", type=float)
    hyper.add_argument("--batch-size", type=int)
    hyper.add_argument("--epochs", type=int)
    hyper.add_argument("--eval-every", type=int)
    hyper.add_argument("--patience", type=int, help="evaluations without improvement")
    hyper.add_argument("--metric", help="validation metric for early stopping, e.g. ndcg@20")
    hyper.add_argument("--lr-decay", type=float,
                       help="multiply the learning rate by this on a validation plateau (1: off)")
    hyper.add_argument("--lr-patience", type=int,
                       help="evaluations without improvement before the learning rate decays")
    train.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, auto")
    train.add_argument("--checkpoint", default=None, help="save the best model here")
    train.add_argument("--output", default=None, help="results JSON path")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _load(args: argparse.Namespace):
    from graphrec.data import load_dataset

    if args.dataset == "tsv":
        if not args.path:
            raise SystemExit("--dataset tsv needs --path FILE")
        return load_dataset("tsv", path=args.path, delimiter=args.delimiter, header=args.header,
                            has_weight=args.has_weight, has_time=args.has_time)
    return load_dataset(args.dataset, root=args.root)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    dataset = _load(args)
    split = make_split(dataset, args.split, seed=args.seed, valid_ratio=args.valid_ratio)
    model_kwargs, train_kwargs = default_settings(args.model)
    for flag, key in (("dim", "embedding_dim"), ("layers", "num_layers"),
                      ("normalize", "normalize"), ("alpha", "residual_alpha"),
                      ("reg", "reg_weight")):
        if getattr(args, flag) is not None:
            if key not in model_kwargs:
                raise SystemExit(f"--{flag} does not apply to model {args.model!r}")
            model_kwargs[key] = getattr(args, flag)
    for key in ("lr", "batch_size", "epochs", "eval_every", "patience", "metric", "lr_decay",
                "lr_patience"):
        if getattr(args, key) is not None:
            train_kwargs[key] = getattr(args, key)
    config = TrainConfig(**train_kwargs, seed=args.seed, device=args.device,
                         checkpoint=args.checkpoint, progress=not args.quiet)
    _, results = run_experiment(dataset, split, args.model, model_kwargs, config,
                                split_name=args.split)
    summary = {k: round(v, 4) for k, v in results["test"].items()
               if k.split("@")[0] in ("recall", "ndcg", "precision")}
    print(json.dumps({"model": args.model, "dataset": args.dataset,
                      "epochs": results["epochs"], "best_epoch": results["best_epoch"],
                      "train_seconds": round(results["train_seconds"], 1), "test": summary}))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
