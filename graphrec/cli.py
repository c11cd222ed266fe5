"""Command line: ``python -m graphrec train --model lightgcn --dataset lastfm --root DIR``.

``graphrec train`` builds one run configuration (:func:`graphrec.experiment.resolve_run`)
from, in increasing precedence: the model's declared defaults, the ``(model, dataset)``
preset, ``--config FILE`` (TOML, or a results JSON to replay), ``--set key=value`` and the
explicit flags. Every argument is checked before any data is read; a user error prints one
line and exits with status 2 (``GRAPHREC_DEBUG=1`` shows the traceback).

Under ``torchrun --nproc_per_node N -m graphrec train ...`` it trains data-parallel (DDP;
gloo on CPU, NCCL on GPUs); rank 0 prints and writes the results.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphrec.data.errors import DataError
from graphrec.experiment import RUN_KEYS, RUN_SECTIONS, SPLITS, replayable, run
from graphrec.files import write_json
from graphrec.models import MODELS


class UsageError(ValueError):
    """A mistake in the command line or a configuration file (exit status 2)."""


# flag -> (section, key); section None: top level
_FLAGS: dict[str, tuple[str | None, str]] = {
    "model": (None, "model"), "dataset": (None, "dataset"), "seed": (None, "seed"),
    "preset": (None, "preset"),
    "root": ("data", "root"), "path": ("data", "path"), "format": ("data", "format"),
    "delimiter": ("data", "delimiter"),
    "split": ("split", "name"), "valid_ratio": ("split", "valid_ratio"),
    "dim": ("hyperparameters", "embedding_dim"), "layers": ("hyperparameters", "num_layers"),
    "normalize": ("hyperparameters", "normalize"),
    "alpha": ("hyperparameters", "residual_alpha"), "reg": ("hyperparameters", "reg_weight"),
    "loss": ("hyperparameters", "loss"), "maxlen": ("hyperparameters", "maxlen"),
    "blocks": ("hyperparameters", "num_blocks"), "dropout": ("hyperparameters", "dropout"),
    "lr": ("train", "lr"), "batch_size": ("train", "batch_size"), "epochs": ("train", "epochs"),
    "eval_every": ("train", "eval_every"), "patience": ("train", "patience"),
    "metric": ("train", "metric"), "lr_decay": ("train", "lr_decay"),
    "lr_schedule": ("train", "lr_schedule"),
    "lr_patience": ("train", "lr_patience"), "device": ("train", "device"),
    "checkpoint": ("train", "checkpoint"), "sampled": ("eval", "sampled"),
}
# store_true flags -> (section, key, value when given)
_SWITCHES: dict[str, tuple[str, str, Any]] = {
    "header": ("data", "header", True), "has_weight": ("data", "has_weight", True),
    "has_time": ("data", "has_time", True),
    "amp": ("train", "amp", True), "quiet": ("train", "progress", False),
    "mhc": ("hyperparameters", "mhc_expansion", 4),
}


def _version() -> str:
    from graphrec._version import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    from graphrec.data import DATASETS

    parser = argparse.ArgumentParser(prog="graphrec", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"graphrec {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train and test one model; write results JSON")
    train.add_argument("--config", default=None, metavar="FILE",
                       help="run configuration: TOML (keys model, dataset, preset, seed; tables "
                            "data, split, hyperparameters, train, eval), or a results JSON "
                            "to replay")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one setting, e.g. hyperparameters.embedding_dim=32, "
                            "train.lr=1e-3 or a bare name that one section declares "
                            "(embedding_dim=32); VALUE is read as TOML (strings may be bare)")
    train.add_argument("--resume", default=None, metavar="CHECKPOINT",
                       help="continue the run saved in this checkpoint (--checkpoint of an "
                            "earlier run); ends as the uninterrupted run would")
    train.add_argument("--model", choices=sorted(MODELS), default=None)
    train.add_argument("--dataset", choices=sorted(DATASETS), default=None)
    train.add_argument("--preset", choices=("auto", "none"), default=None,
                       help="auto (default): the model's preset for the data set, if any")
    train.add_argument("--root", default=None,
                       help="data folder (default: $GRAPHREC_DATA, else ~/.graphrec/data)")
    train.add_argument("--no-download", action="store_true",
                       help="never download a missing data set (also GRAPHREC_OFFLINE=1)")
    train.add_argument("--path", default=None,
                       help="file to read with --dataset tsv or sequence-file")
    train.add_argument("--format", choices=("lines", "interactions"), default=None,
                       help="--dataset sequence-file: 'user item1 item2 ...' per line, or "
                            "'user item [timestamp]' per line in time order")
    train.add_argument("--delimiter", default=None, help="column delimiter for --dataset tsv")
    train.add_argument("--header", action="store_true", help="--dataset tsv: skip a header line")
    train.add_argument("--has-weight", action="store_true",
                       help="--dataset tsv: the third column is a weight")
    train.add_argument("--has-time", action="store_true",
                       help="--dataset tsv: the next column is an integer timestamp")
    train.add_argument("--split", choices=SPLITS, default=None,
                       help="auto: the source's fixed split if it has one, else random 80/10/10")
    train.add_argument("--valid-ratio", type=float, default=None,
                       help="validation (and test) share of random/temporal splits; share of "
                            "training held out for validation on fixed splits without one")
    train.add_argument("--seed", type=int, default=None,
                       help="seeds the split, the initial weights and the batches (default 0); "
                            "a model's own seed setting (Lite-EIISRS's factorisations, "
                            "PinSAGE's and Pixie's walks, GF-CF's and BSPM's SVD start) is "
                            "--set seed=S")
    hyper = train.add_argument_group("hyperparameters (defaults depend on the model)")
    hyper.add_argument("--dim", type=int, help="embedding size (embedding_dim)")
    hyper.add_argument("--layers", type=int, help="propagation layers (num_layers)")
    hyper.add_argument("--normalize", choices=("sym", "row"), help="LightGCN normalisation")
    hyper.add_argument("--alpha", type=float, help="residual weight to layer 0 (residual_alpha)")
    hyper.add_argument("--reg", type=float, help="L2 weight on batch embeddings (reg_weight)")
    sequence = train.add_argument_group("sequence models (sasrec, tisasrec)")
    sequence.add_argument("--mhc", action="store_true",
                          help="mHC residuals (expansion 4, 20 Sinkhorn-Knopp rounds)")
    sequence.add_argument("--loss", choices=("bpr", "ce", "bce", "sampled_softmax"),
                          help="training objective: bpr or sampled_softmax (mf, lightgcn); "
                               "ce, bce or sampled_softmax (sequence models)")
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
    hyper.add_argument("--lr-schedule", choices=("constant", "cosine"),
                       help="cosine: anneal the learning rate to min_lr over the epochs")
    hyper.add_argument("--lr-patience", type=int,
                       help="evaluations without improvement before the learning rate decays")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1, auto")
    train.add_argument("--amp", action="store_true", help="bfloat16 autocast on CUDA")
    train.add_argument("--checkpoint", default=None,
                       help="write the training state here after every epoch (for --resume)")
    train.add_argument("--output", default=None, help="results JSON path")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_commands(commands)
    return parser


def _add_commands(commands: Any) -> None:
    """Further subcommands (saved models: ``recommend``, ``export``)."""
    try:
        from graphrec import serve
    except ImportError:  # pragma: no cover - the serving commands are optional
        return
    serve.add_commands(commands)


def _read_config_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--config {path}: no such file")
    text = file.read_text(encoding="utf-8")
    if file.suffix == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--config {path}: not valid JSON ({error})") from None
        if isinstance(value, dict) and isinstance(value.get("config"), dict) \
                and "hyperparameters" in value["config"]:
            return replayable(value["config"])  # a results file: replay its run
        if not isinstance(value, dict):
            raise UsageError(f"--config {path}: expected a JSON object")
        return value
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--config {path}: not valid TOML ({error})") from None


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text  # a bare string


def _apply_set(raw: dict[str, Any], assignment: str) -> None:
    from graphrec.models.registry import hyperparameters
    from graphrec.train import TrainConfig

    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set {assignment!r}: expected KEY=VALUE")
    value = _parse_value(text.strip())
    section, _, name = key.partition(".")
    if name:  # SECTION.NAME, or SECTION.GROUP.FIELD for a typed group of hyperparameters
        if section not in RUN_SECTIONS:
            raise UsageError(f"--set {key}: unknown section {section!r}; sections are "
                             f"{', '.join(RUN_SECTIONS)}")
        table = raw.setdefault(section, {})
        *groups, name = name.split(".")
        for group in groups:
            table = table.setdefault(group, {})
            if not isinstance(table, dict):
                raise UsageError(f"--set {key}: {group!r} is not a table")
        table[name] = value
        return
    name = section
    if name in RUN_KEYS:
        raw[name] = value
        return
    # a bare name: the section that declares it
    owners = []
    if raw.get("model") in MODELS and name in hyperparameters(raw["model"]):
        owners.append("hyperparameters")
    if name in TrainConfig.__dataclass_fields__:
        owners.append("train")
    if len(owners) != 1:
        where = "both hyperparameters and train" if owners else "no section"
        raise UsageError(f"--set {key}: {where} declares {name!r}; write SECTION.{name}")
    raw.setdefault(owners[0], {})[name] = value


def build_run_config(args: argparse.Namespace) -> dict[str, Any]:
    """The (unresolved) run configuration of ``graphrec train``'s arguments."""
    raw: dict[str, Any] = {}
    if args.resume:
        raw = _checkpoint_config(args.resume)
    if args.config:
        raw = _read_config_file(args.config)
    for flag, (section, key) in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None and flag not in ("model", "dataset", "seed", "preset"):
            continue
        if value is not None:
            (raw if section is None else raw.setdefault(section, {}))[key] = value
    # --set after the file, explicit flags after --set
    for assignment in args.set:
        _apply_set(raw, assignment)
    for flag, (section, key) in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None and flag not in ("model", "dataset", "seed", "preset"):
            raw.setdefault(section, {})[key] = value
    for flag, (section, key, value) in _SWITCHES.items():
        if getattr(args, flag):
            raw.setdefault(section, {})[key] = value
    if args.resume and not (raw.get("train") or {}).get("checkpoint"):
        raw.setdefault("train", {})["checkpoint"] = args.resume  # keep writing the same state
    return raw


def _checkpoint_config(path: str) -> dict[str, Any]:
    import torch

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--resume {path}: no such file")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise UsageError(f"--resume {path}: not a graphrec checkpoint ({error})") from None
    if not isinstance(state, dict) or not isinstance(state.get("run"), dict):
        raise UsageError(f"--resume {path}: not a checkpoint of `graphrec train --checkpoint`")
    return replayable(state["run"])


def _check_output(path: str | None) -> None:
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"--output {path} is a directory; give a file path")
    if target.suffix != ".json":
        raise UsageError(f"--output {path}: results are JSON; give a path ending in .json")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        if args.command != "train":
            from graphrec import serve

            return serve.run(args)
        if "WORLD_SIZE" not in os.environ:
            return _train(args, rank=0)
        # started by torchrun: data-parallel training
        from graphrec.train.distributed import close_distributed, init_distributed, world

        args.device = str(init_distributed())
        try:
            return _train(args, rank=world()[0])
        finally:
            close_distributed()
    except (ValueError, KeyError, DataError, FileNotFoundError,
            IsADirectoryError, PermissionError) as error:
        if os.environ.get("GRAPHREC_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"graphrec {args.command}: error: {message}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, rank: int) -> int:
    from graphrec.experiment import resolve_run

    _check_output(args.output)
    if args.no_download:  # honoured by every loader's download step
        os.environ["GRAPHREC_OFFLINE"] = "1"
    raw = build_run_config(args)
    resolve_run(raw)  # every argument is checked before any data is read
    _, results = run(raw, resume=args.resume)
    config = results["config"]
    shown = ("recall", "ndcg", "precision", "hit")
    summary = {k: round(v, 4) for k, v in results["test"].items()
               if v is not None and k.removeprefix("sampled_").split("@")[0] in shown}
    if rank > 0:  # every rank holds the same model and results; rank 0 reports
        return 0
    print(json.dumps({"model": config["model"], "dataset": config["dataset"],
                      "split": config["split"]["name"], "epochs": results["epochs"],
                      "best_epoch": results["best_epoch"],
                      "train_seconds": round(results["train_seconds"], 1), "test": summary}))
    if args.output:
        write_json(args.output, results)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
