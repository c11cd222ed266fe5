"""examples/sequential.py end to end on MovieLens-100K (short settings)."""
import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sequential.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("sequential_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_beats_popularity_and_writes_table_json_plot(data_root, tmp_path, capsys):
    output = tmp_path / "ml.json"
    report = _load_example().main([
        "--root", str(data_root), "--dataset", "movielens-100k",
        "--models", "sasrec,popularity", "--epochs", "4", "--lr", "1e-2", "--maxlen", "20",
        "--dropout", "0.2", "--device", "cpu", "--quiet", "--output", str(output)])
    results = json.loads(output.read_text())
    assert results["dataset"] == "movielens-100k" and results == json.loads(json.dumps(report))
    assert results["split"]["test"] == 943  # leave-one-out: one test item per user
    models = results["models"]
    assert set(models) == {"sasrec", "popularity"}
    for name in ("sasrec",):
        assert models[name]["ndcg@10"] > models["popularity"]["ndcg@10"]
        assert models[name]["sampled_hr@10"] >= models[name]["hr@10"]
        assert models[name]["train_seconds"] > 0
    assert output.with_suffix(".png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "sampled_hr@10" in printed and "| sasrec |" in printed
