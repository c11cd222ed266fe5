"""Command line: ``python -m graphrec train --model lightgcn --dataset lastfm --root DIR``.

Under ``torchrun --nproc_per_node N -m graphrec train ...`` it trains data-parallel (DDP;
gloo on CPU, NCCL on GPUs); rank 0 prints and writes the results.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from graphrec import serve
from graphrec.eval.evaluator import Evaluator
from graphrec.experiment import SPLITS, default_settings, make_split, run_experiment
from graphrec.models import MODELS
from graphrec.models.sequential import SequentialRecommender
from graphrec.train.trainer import TrainConfig

DATASETS = ("lastfm", "lastfm-sociallgn", "lightgcn", "movielens-100k", "tsv", "beauty",
            "lastfm-tags", "sequence-file")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphrec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train and test one model; write results JSON")
    train.add_argument("--model", choices=sorted(MODELS), required=True)
    train.add_argument("--dataset", choices=DATASETS, required=True)
    train.add_argument("--root", default=None,
                       help="data folder (default: $GRAPHREC_DATA, else ~/.graphrec/data)")
    train.add_argument("--path", default=None,
                       help="file to read with --dataset tsv or sequence-file")
    train.add_argument("--format", choices=("lines", "interactions"), default="lines",
                       help="--dataset sequence-file: 'user item1 item2 ...' per line, or "
                            "'user item [timestamp]' per line in time order")
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
    sequence = train.add_argument_group("sequence models (sasrec, tisasrec)")
    sequence.add_argument("--mhc", action="store_true",
                          help="mHC residuals (expansion 4, 20 Sinkhorn-Knopp rounds)")
    sequence.add_argument("--loss", choices=("ce", "bce", "sampled_softmax"))
    sequence.add_argument("--maxlen", type=int, help="input window length")
    sequence.add_argument("--blocks", type=int, help="self-attention blocks")
    sequence.add_argument("--dropout", type=float)
    sequence.add_argument("--sampled", type=int, default=None, metavar="N",
                          help="also report the sampled protocol (target + N sampled items) "
                               "as sampled_* metrics")
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
    train.add_argument("--amp", action="store_true", help="bfloat16 autocast on CUDA")
    train.add_argument("--checkpoint", default=None, help="save the best model here")
    train.add_argument("--output", default=None, help="results JSON path")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    serve.add_commands(commands)  # recommend, export (graphrec/serve.py)
    return parser


def _load(args: argparse.Namespace):
    from graphrec.data import load_dataset

    if args.dataset == "sequence-file":
        if not args.path:
            raise SystemExit("--dataset sequence-file needs --path FILE")
        kwargs = {"has_time": args.has_time} if args.format == "interactions" else {}
        return load_dataset("sequence-file", path=args.path, format=args.format, **kwargs)
    if args.dataset == "tsv":
        if not args.path:
            raise SystemExit("--dataset tsv needs --path FILE")
        return load_dataset("tsv", path=args.path, delimiter=args.delimiter, header=args.header,
                            has_weight=args.has_weight, has_time=args.has_time)
    return load_dataset(args.dataset, root=args.root)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in serve.COMMANDS:
        return serve.run(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if "WORLD_SIZE" not in os.environ:
        return _train(args, rank=0)
    # started by torchrun: data-parallel training
    from graphrec.train.distributed import close_distributed, init_distributed, world

    args.device = str(init_distributed())
    try:
        return _train(args, rank=world()[0])
    finally:
        close_distributed()


def _train(args: argparse.Namespace, rank: int) -> int:
    dataset = _load(args)
    sequential = issubclass(MODELS[args.model], SequentialRecommender)
    # sequence models are evaluated leave-one-out (last item test, second last validation)
    split_name = "loo" if sequential and args.split == "auto" else args.split
    split = make_split(dataset, split_name, seed=args.seed, valid_ratio=args.valid_ratio)
    model_kwargs, train_kwargs = default_settings(args.model)
    if args.mhc:
        if not sequential:
            raise SystemExit(f"--mhc does not apply to model {args.model!r}")
        model_kwargs["mhc_expansion"] = 4
    for flag, key in (("dim", "embedding_dim"), ("layers", "num_layers"),
                      ("normalize", "normalize"), ("alpha", "residual_alpha"),
                      ("reg", "reg_weight"), ("loss", "loss"), ("maxlen", "maxlen"),
                      ("blocks", "num_blocks"), ("dropout", "dropout")):
        if getattr(args, flag) is not None:
            if key not in model_kwargs:
                raise SystemExit(f"--{flag} does not apply to model {args.model!r}")
            model_kwargs[key] = getattr(args, flag)
    for key in ("lr", "batch_size", "epochs", "eval_every", "patience", "metric", "lr_decay",
                "lr_patience"):
        if getattr(args, key) is not None:
            train_kwargs[key] = getattr(args, key)
    config = TrainConfig(**train_kwargs, seed=args.seed, device=args.device,
                         checkpoint=args.checkpoint, progress=not args.quiet, amp=args.amp)
    evaluator = None
    if args.sampled is not None:
        evaluator = Evaluator(ks=config.ks, sampled_negatives=args.sampled, sample_seed=args.seed)
    _, results = run_experiment(dataset, split, args.model, model_kwargs, config,
                                split_name=split_name, evaluator=evaluator)
    shown = ("recall", "ndcg", "precision", "hit") if sequential else ("recall", "ndcg",
                                                                       "precision")
    summary = {k: round(v, 4) for k, v in results["test"].items()
               if k.removeprefix("sampled_").split("@")[0] in shown}
    if rank > 0:  # every rank holds the same model and results; rank 0 reports
        return 0
    print(json.dumps({"model": args.model, "dataset": args.dataset,
                      "epochs": results["epochs"], "best_epoch": results["best_epoch"],
                      "train_seconds": round(results["train_seconds"], 1), "test": summary}))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
