import json

import pytest

from graphrec.cli import main


def _write_interactions(path, num_users=30, num_items=20):
    lines = []
    for user in range(num_users):
        community = user % 2
        for item in range(community * 10, community * 10 + 8):
            lines.append(f"u{user}\ti{(item + user) % 20}\t1\t{user * 100 + item}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("model", ["mf", "lightgcn", "popularity"])
def test_train_writes_results_json(tmp_path, model, capsys):
    data = tmp_path / "inter.tsv"
    _write_interactions(data)
    output = tmp_path / "out" / "results.json"
    code = main(["train", "--model", model, "--dataset", "tsv", "--path", str(data),
                 "--has-weight", "--has-time", "--split", "temporal", "--epochs", "3",
                 "--eval-every", "1", "--seed", "1", "--device", "cpu",
                 "--quiet", "--output", str(output)])
    assert code == 0
    results = json.loads(output.read_text())
    assert results["config"]["model"] == model and results["config"]["seed"] == 1
    assert results["dataset"]["num_users"] == 30 and results["dataset"]["num_items"] == 20
    assert results["dataset"]["num_interactions"] == 240
    assert results["dataset"]["num_social_edges"] == 0
    assert 0.0 <= results["test"]["recall@20"] <= 1.0 and "ndcg@10" in results["test"]
    if model != "popularity":
        assert len(results["history"]) == 3
        assert {"loss", "seconds", "valid"} <= set(results["history"][0])
    assert json.loads(capsys.readouterr().out)["model"] == model


def test_flags_that_do_not_apply_are_rejected(tmp_path, capsys):
    data = tmp_path / "inter.tsv"
    _write_interactions(data)
    code = main(["train", "--model", "mf", "--dataset", "tsv", "--path", str(data),
                 "--has-weight", "--has-time", "--layers", "2"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["graphrec train: error: model 'mf' has no hyperparameter 'num_layers'; it "
                   "takes embedding_dim, reg_weight, init_std, loss, num_negatives, temperature, "
                   "in_batch, logq, similarity"]


@pytest.mark.parametrize("model, extra", [("sasrec", []), ("tisasrec", ["--mhc"])])
def test_sequence_models_train_leave_one_out(tmp_path, model, extra):
    data = tmp_path / "seq.txt"
    data.write_text("".join(f"u{u} " + " ".join(f"i{(u + k) % 15}" for k in range(8)) + "\n"
                            for u in range(20)))
    output = tmp_path / "results.json"
    code = main(["train", "--model", model, "--dataset", "sequence-file", "--path", str(data),
                 "--epochs", "2", "--dim", "8", "--maxlen", "5", "--sampled", "10",
                 "--device", "cpu", "--quiet", "--output", str(output), *extra])
    assert code == 0
    results = json.loads(output.read_text())
    assert results["config"]["split"]["name"] == "loo"
    assert results["dataset"]["num_test"] == 20 and results["test_users"] == 20
    assert {"hit@10", "ndcg@10", "sampled_hit@10", "sampled_ndcg@10"} <= set(results["test"])
    assert results["config"]["hyperparameters"].get("mhc_expansion") == (4 if extra else None)
