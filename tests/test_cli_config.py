"""graphrec train's configuration: files, --set, presets, replay, resume and argument errors."""
import json

import pytest
import torch

from graphrec.cli import _parser as cli_parser
from graphrec.cli import build_run_config, main
from graphrec.experiment import default_settings, resolve_run
from graphrec.models import MODELS


def _write_interactions(path, num_users=30, num_items=20):
    lines = []
    for user in range(num_users):
        for item in range((user % 2) * 10, (user % 2) * 10 + 8):
            lines.append(f"u{user}\ti{(item + user) % 20}\t1\t{user * 100 + item}")
    path.write_text("\n".join(lines) + "\n")


def _base(tmp_path):
    data = tmp_path / "inter.tsv"
    _write_interactions(data)
    return ["train", "--dataset", "tsv", "--path", str(data), "--has-weight", "--has-time",
            "--split", "temporal", "--device", "cpu", "--quiet"]


def _resolved(argv):
    return resolve_run(build_run_config(cli_parser().parse_args(argv)))


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("dataset", ["lastfm", "movielens-100k", "gowalla", "tsv"])
def test_cli_and_python_api_resolve_the_same_declared_defaults(model, dataset):
    config = _resolved(["train", "--model", model, "--dataset", dataset])
    model_kwargs, train_kwargs = default_settings(model, dataset)
    assert config["hyperparameters"] == model_kwargs
    for key, value in train_kwargs.items():
        assert config["train"][key] == (list(value) if isinstance(value, tuple) else value)


def test_pinsage_example_uses_the_presets_the_cli_uses():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "pinsage.py"
    spec = importlib.util.spec_from_file_location("pinsage_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    for dataset in ("lastfm", "movielens-100k"):
        args = example.parse_args(["--dataset", dataset])
        model_kwargs, train_kwargs = example.settings("pinsage", args)
        config = _resolved(["train", "--model", "pinsage", "--dataset", dataset])
        assert model_kwargs == config["hyperparameters"]
        assert config["hyperparameters"]["objective"] == {"kind": "softmax", "margin": 0.1,
                                                          "temperature": 0.05}
        assert config["hyperparameters"]["output"]["gate"] is True
        for key in ("lr", "eval_every", "patience", "batch_size"):
            assert train_kwargs[key] == config["train"][key]
    assert _resolved(["train", "--model", "pinsage", "--dataset", "movielens-100k"]
                     )["data"] == {"release_date_features": 32}
    assert _resolved(["train", "--model", "pinsage", "--dataset", "lastfm", "--preset", "none"]
                     )["hyperparameters"]["objective"]["kind"] == "margin"


def test_precedence_defaults_preset_file_set_flags(tmp_path):
    config_file = tmp_path / "run.toml"
    config_file.write_text('model = "lightgcn"\ndataset = "lastfm"\nseed = 3\n'
                           "[hyperparameters]\nembedding_dim = 16\nnum_layers = 1\n"
                           "[train]\nlr = 0.02\nepochs = 7\n")
    config = _resolved(["train", "--config", str(config_file), "--set", "num_layers=2",
                        "--set", "train.epochs=9", "--epochs", "11"])
    assert config["hyperparameters"]["embedding_dim"] == 16          # file
    assert config["hyperparameters"]["num_layers"] == 2              # --set over file
    assert config["train"]["epochs"] == 11                           # flag over --set
    assert config["train"]["lr"] == 0.02 and config["seed"] == 3    # file over preset
    assert config["train"]["patience"] == 10                         # (lightgcn, lastfm) preset
    assert config["hyperparameters"]["similarity"] == "dot"          # preset
    assert config["train"]["lr_patience"] == 10                      # declared default
    assert config["hyperparameters"]["normalize"] == "sym"           # declared default
    assert config["split"]["seed"] == 3 and config["train"]["seed"] == 3


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "epochs"),
    (["--batch-size", "0"], "batch_size"),
    (["--eval-every", "0"], "eval_every"),
    (["--dim", "0"], "embedding_dim must be at least 1"),
    (["--dim", "-4"], "embedding_dim must be at least 1"),
    (["--layers", "-1"], "num_layers must be non-negative"),
    (["--lr", "-1"], "lr"),
    (["--device", "foo"], "device"),
    (["--metric", "foo@3"], "metric"),
    (["--valid-ratio", "0.5"], "valid_ratio must lie in"),
    (["--valid-ratio", "0", "--split", "fixed"], "nothing to early-stop on"),
    (["--set", "embedding_dim=abc"], "takes a int"),
    (["--set", "train.nope=1"], "unknown training setting 'nope'"),
    (["--set", "nope"], "expected KEY=VALUE"),
    (["--output", "."], "is a directory"),
    (["--config", "missing.toml"], "no such file"),
    (["--resume", "missing.pt"], "no such file"),
])
def test_argument_errors_exit_2_with_one_line_before_reading_data(argv, message, capsys,
                                                                  monkeypatch):
    def no_data(*args, **kwargs):  # any argument error must come before the data is read
        raise AssertionError("data was read")

    monkeypatch.setattr("graphrec.experiment.load_run_dataset", no_data)
    code = main(["train", "--model", "lightgcn", "--dataset", "lastfm", *argv])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("graphrec train: error:") and message in err[0]


def test_results_replay_bit_for_bit(tmp_path):
    first = tmp_path / "first.json"
    assert main([*_base(tmp_path), "--model", "lightgcn", "--epochs", "3", "--dim", "8",
                 "--seed", "4", "--output", str(first)]) == 0
    recorded = json.loads(first.read_text())
    assert recorded["config"]["split"]["name"] == "temporal"
    assert len(recorded["data_fingerprint"]) == 64
    assert {"graphrec", "torch", "torch_geometric"} <= set(recorded["versions"])
    replay = tmp_path / "replay.json"
    assert main(["train", "--config", str(first), "--quiet", "--output", str(replay)]) == 0
    replayed = json.loads(replay.read_text())
    assert replayed["test"] == recorded["test"]
    environment = ("device", "progress", "checkpoint")  # the replay's own, not the run's
    assert replayed["config"]["hyperparameters"] == recorded["config"]["hyperparameters"]
    assert {k: v for k, v in replayed["config"]["train"].items() if k not in environment} == \
        {k: v for k, v in recorded["config"]["train"].items() if k not in environment}
    assert replayed["config"]["split"] == recorded["config"]["split"]
    assert [r["loss"] for r in replayed["history"]] == [r["loss"] for r in recorded["history"]]


def test_results_json_has_no_nan(tmp_path):
    output = tmp_path / "r.json"
    assert main([*_base(tmp_path), "--model", "popularity", "--output", str(output)]) == 0
    json.loads(output.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


def test_resume_from_the_cli_equals_an_uninterrupted_run(tmp_path):
    base = [*_base(tmp_path), "--model", "mf", "--dim", "8", "--patience", "0", "--seed", "2"]
    full = tmp_path / "full.json"
    assert main([*base, "--epochs", "6", "--output", str(full)]) == 0
    checkpoint = tmp_path / "state.pt"
    assert main([*base, "--epochs", "2", "--checkpoint", str(checkpoint)]) == 0
    resumed = tmp_path / "resumed.json"
    assert main(["train", "--resume", str(checkpoint), "--set", "train.epochs=6", "--quiet",
                 "--output", str(resumed)]) == 0
    a, b = json.loads(full.read_text()), json.loads(resumed.read_text())
    assert b["test"] == a["test"]
    assert [r["loss"] for r in b["history"]] == [r["loss"] for r in a["history"]]
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 6


def test_version(capsys):
    from graphrec import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"graphrec {__version__}"


class _Captured(Exception):
    pass


@pytest.mark.parametrize(("example_argv", "cli_argv"), [
    ([], ["--dataset", "lastfm"]),
    (["--split", "sociallgn"], ["--dataset", "lastfm-sociallgn"]),
    (["--preset", "none"], ["--dataset", "lastfm", "--preset", "none"])])
def test_lastfm_example_builds_what_the_cli_builds(monkeypatch, data_root, example_argv,
                                                   cli_argv):
    """examples/lastfm_social.py trains every model with the settings `graphrec train --model M
    --dataset lastfm` resolves (the same declared defaults and presets)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "lastfm_social.py"
    spec = importlib.util.spec_from_file_location("lastfm_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    seen = {}

    def capture(dataset, split, name, model_kwargs, config, **kwargs):
        seen[name] = (model_kwargs, config)
        if len(seen) == 5:
            raise _Captured
        return None, {"test": {"recall@20": 0.0, "ndcg@20": 0.0}, "epochs": 0,
                      "best_epoch": None, "train_seconds": 0.0, "history": [], "config": {}}

    monkeypatch.setattr(example, "run_experiment", capture)
    with pytest.raises(_Captured):
        example.main(["--root", str(data_root), "--quiet", "--max-seconds", "0", *example_argv])
    assert sorted(seen) == ["lightgcn", "lite_eiisrs", "mf", "popularity", "sociallgn"]
    for name, (model_kwargs, config) in seen.items():
        resolved = _resolved(["train", "--model", name, *cli_argv])
        assert model_kwargs == resolved["hyperparameters"], name
        for key, value in resolved["train"].items():
            if key not in ("device", "progress", "max_seconds", "seed", "checkpoint"):
                got = getattr(config, key)
                assert (list(got) if isinstance(got, tuple) else got) == value, (name, key)


def test_data_errors_are_one_line_exit_2(tmp_path, capsys):
    code = main(["train", "--model", "mf", "--dataset", "tsv", "--path", str(tmp_path),
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"graphrec train: error: {tmp_path} is a directory, expected a file"]
