"""examples/item_embeddings.py end to end on MovieLens-100K (short settings)."""
import json

import pytest

pytestmark = pytest.mark.realdata


def test_short_movielens_run_beats_chance_and_reports_cold_start(data_root, tmp_path, capsys,
                                                                 load_example):
    output = tmp_path / "ml.json"
    code = load_example("item_embeddings").main([
        "--root", str(data_root), "--dataset", "movielens-100k", "--models", "item2vec,eges",
        "--epochs", "2", "--walks-per-node", "2", "--walk-length", "10", "--device", "cpu",
        "--quiet", "--output", str(output)])
    assert code == 0
    results = json.loads(output.read_text())["models"]
    assert set(results) == {"popularity", "item2vec", "eges"}
    for name in ("item2vec", "eges"):
        assert set(results[name]) == {"auc", "cold_auc", "hr@10", "ndcg@10", "train_seconds"}
        assert results[name]["auc"] > 0.65
    assert results["item2vec"]["hr@10"] > results["popularity"]["hr@10"]
    assert results["item2vec"]["cold_auc"] is None  # id-only: absent, not 0.5
    assert results["eges"]["cold_auc"] > 0.55
    printed = capsys.readouterr().out
    assert "| item2vec |" in printed and "absent" in printed
    assert "Star Wars (1977):" in printed  # nearest neighbours by title
