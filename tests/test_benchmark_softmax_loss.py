"""benchmarks/softmax_loss.py: its baseline is the loss it claims to speed up, and its rows."""
import json

import pytest
import torch


def test_baseline_is_the_same_loss_with_the_mask_recorded(load_benchmark):
    bench = load_benchmark("softmax_loss")
    case = bench.make_case(batch=64, negatives=32, items=50)  # 50 items: many hits
    hits = bench.accidental_hits(case["positive_ids"], case["negative_ids"])
    assert int(hits.sum()) > 10  # the mask has work to do
    assert not hits[:, :64].diagonal().any()  # a row's own target is never a hit
    loss, grads = bench.run(bench.sampled_softmax_loss, case, 0.5)
    base_loss, base_grads = bench.run(bench.recorded_mask_loss, case, 0.5)
    torch.testing.assert_close(loss, base_loss)
    for got, expected in zip(grads, base_grads, strict=True):
        torch.testing.assert_close(got, expected)


def test_rows_and_bad_arguments(load_benchmark, tmp_path, capsys):
    bench = load_benchmark("softmax_loss")
    output = tmp_path / "rows.json"
    bench.main(["--batch", "32", "--negatives", "16", "--items", "40", "--repeats", "1",
                "--output", str(output)])
    rows = json.loads(output.read_text())
    assert [row["model"] for row in rows] == ["sampled_softmax:graphrec",
                                              "sampled_softmax:recorded_mask"]
    assert all(row["seconds"] > 0 and row["batch"] == 32 for row in rows)
    assert "ratio" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--negatives", "0"])
    assert "--negatives must be at least 1" in capsys.readouterr().err
