"""The flagship example runs end to end on the real data (short settings)."""
import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lastfm_social.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("lastfm_social", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_writes_table_json_and_plot(data_root, tmp_path, capsys):
    output = tmp_path / "lastfm.json"
    code = _load_example().main(["--root", str(data_root), "--models", "mf,popularity",
                                 "--epochs", "2", "--seeds", "0,1", "--device", "cpu",
                                 "--quiet", "--output", str(output)])
    assert code == 0
    results = json.loads(output.read_text())
    assert results["split"] == "random" and results["seeds"] == [0, 1]
    assert set(results["models"]) == {"mf", "popularity"}
    recall = results["models"]["popularity"]["recall@20"]
    assert 0 < recall["mean"] < 1 and recall["std"] >= 0
    assert results["models"]["mf"]["cold_users"] >= 0
    assert output.with_suffix(".png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "recall@20" in printed and "cold users" in printed
    assert "most played artists" in printed  # names shown for one user
