"""The flagship example runs end to end on the real data (short settings)."""
import json

import pytest

pytestmark = pytest.mark.realdata


def test_example_writes_table_json_and_plot(data_root, tmp_path, capsys, load_example):
    output = tmp_path / "lastfm.json"
    code = load_example("lastfm_social").main([
        "--root", str(data_root), "--models", "mf,popularity", "--epochs", "2", "--seeds", "0,1",
        "--device", "cpu", "--quiet", "--output", str(output)])
    assert code == 0
    results = json.loads(output.read_text())
    assert results["split"] == "random" and results["seeds"] == [0, 1]
    assert set(results["models"]) == {"mf", "popularity"}
    recall = results["models"]["popularity"]["recall@20"]
    assert 0 < recall["mean"] < 1 and recall["std"] >= 0
    assert results["models"]["mf"]["cold_users"] >= 0
    assert output.with_suffix(".png").stat().st_size > 1000
    # the plot's time axis: training seconds so far, one per validated epoch, increasing
    elapsed = [r["elapsed"] for r in results["runs"]["mf"][0]["history"] if "valid" in r]
    assert len(elapsed) == 2 and 0 < elapsed[0] < elapsed[1]
    printed = capsys.readouterr().out
    assert "recall@20" in printed and "cold users" in printed
    assert "most played artists" in printed  # names shown for one user


def test_every_ablation_row_builds_and_trains_one_step(tmp_path, load_example):
    import torch

    from graphrec.graph import build_interaction_graph
    from graphrec.models import build_model
    from graphrec.sampling.batches import PairBatch
    from graphrec.train import TrainConfig

    def _graph():
        generator = torch.Generator().manual_seed(0)
        users, items = (torch.rand(10, 12, generator=generator) < 0.3).nonzero().t()
        return build_interaction_graph(users.tolist(), items.tolist(),
                                       social=([0, 1, 2], [1, 0, 3]),
                                       user_ids=range(10), item_ids=range(12))

    example = load_example("lastfm_social")
    assert "default" in example.ABLATION and "spec as written" in example.ABLATION
    batch = PairBatch(torch.tensor([0, 1]), torch.tensor([0, 2]), torch.tensor([4, 5]))
    for label, (model_extra, train_extra) in example.ABLATION.items():
        fusion = {"token_dim": 8, **model_extra.get("fusion", {})}
        model = build_model("lite_eiisrs", _graph(), **{**model_extra, "embedding_dim": 8,
                                                         "fusion": fusion})
        TrainConfig(**train_extra)  # valid trainer settings
        loss = model.loss(batch)
        loss.backward()
        assert torch.isfinite(loss), label
