"""``graphrec recommend`` and ``graphrec export`` on saved models."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import graphrec
from graphrec.cli import main
from graphrec.graph import build_interaction_graph
from graphrec.graph.build import ITEM
from graphrec.graph.interactions import Interactions
from graphrec.graph.split import leave_one_out
from graphrec.models import build_model


def _saved_model_tests():
    """tests/models/test_saved.py, imported from its file (tests are not a package): its
    community graph and training helper."""
    path = Path(__file__).parent / "models" / "test_saved.py"
    spec = importlib.util.spec_from_file_location("saved_model_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _saved_model_tests()
community_graph, train_model = _helpers.community_graph, _helpers.train_model

NUM_USERS, NUM_ITEMS = 40, 30


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Saved models: MF, LightGCN, PinSAGE and popularity on the community graph (string
    user ids, int item ids, names), validation as extra known interactions."""
    split = leave_one_out(community_graph())
    root = tmp_path_factory.mktemp("saved")
    folders = {}
    for name, epochs in (("mf", 5), ("lightgcn", 2), ("pinsage", 2), ("popularity", 1)):
        train_model(name, split, epochs=epochs).save(root / name, exclude=split.valid)
        folders[name] = root / name
    return folders


def _lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def test_recommend_prints_raw_ids_names_and_scores(saved, capsys):
    code = main(["recommend", "--model-dir", str(saved["mf"]), "--user", "u1", "--user",
                 "u2", "-k", "5"])
    assert code == 0
    lines = _lines(capsys)
    expected = graphrec.load(saved["mf"]).recommend(["u1", "u2"], k=5)
    assert [line["user"] for line in lines] == ["u1", "u2"]
    for line, found in zip(lines, expected, strict=True):
        assert line["items"] == [r.to_dict() for r in found]
        assert all(isinstance(entry["item"], int) and entry["name"] == f"item {entry['item']}"
                   for entry in line["items"])


def test_recommend_for_a_new_history_and_with_known_items(saved, capsys):
    assert main(["recommend", "--model-dir", str(saved["lightgcn"]), "--items",
                 "100, 102,104", "-k", "4"]) == 0
    (line,) = _lines(capsys)
    assert line["history"] == [100, 102, 104]  # parsed as the map's int ids
    expected = graphrec.load(saved["lightgcn"]).recommend_for_items([100, 102, 104], k=4)
    assert line["items"] == [r.to_dict() for r in expected]
    assert not {entry["item"] for entry in line["items"]} & {100, 102, 104}

    assert main(["recommend", "--model-dir", str(saved["popularity"]), "--user", "u0",
                 "--include-known", "-k", "3"]) == 0
    (line,) = _lines(capsys)
    loaded = graphrec.load(saved["popularity"])
    popular = torch.sort(-loaded.known[0].item_degree(), stable=True).indices[:3]
    assert [entry["item"] for entry in line["items"]] == loaded.item_ids.raw(popular)


def test_integer_user_ids_are_read_from_the_command_line(tmp_path, capsys):
    graph = build_interaction_graph([7, 7, 8, 9, 9], ["a", "b", "b", "c", "a"])
    model = build_model("popularity", graph)
    model.fit(Interactions.from_graph(graph))
    model.save(tmp_path / "m")
    assert main(["recommend", "--model-dir", str(tmp_path / "m"), "--user", "8"]) == 0
    (line,) = _lines(capsys)
    assert line["user"] == 8
    assert [entry["item"] for entry in line["items"]] == ["a", "c"]  # "b" is known
    assert "name" not in line["items"][0]  # no names in this data


@pytest.mark.parametrize("argv, message", [
    (["--user", "nobody"], "unknown user id 'nobody'"),
    (["--items", "100,999"], "unknown item id '999'"),
    ([], "name users with --user"),
    (["--user", "u1", "-k", "0"], "k must be a positive integer"),
])
def test_recommend_errors_are_one_line(saved, capsys, argv, message):
    assert main(["recommend", "--model-dir", str(saved["mf"]), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("graphrec recommend: error: ") and message in captured.err


def test_missing_model_folder_is_one_line(tmp_path, capsys):
    assert main(["recommend", "--model-dir", str(tmp_path / "none"), "--user", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a folder" in err


# -------------------------------------------------------------------------------- export
@pytest.mark.parametrize("name", ["mf", "lightgcn", "pinsage"])
def test_export_npz_holds_the_models_embeddings_and_raw_ids(saved, tmp_path, capsys, name):
    output = tmp_path / "emb.npz"
    assert main(["export", "--model-dir", str(saved[name]), "--output", str(output)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] == [str(output)] and summary["users"] == NUM_USERS
    data = np.load(output)  # allow_pickle=False: plain arrays only
    loaded = graphrec.load(saved[name])
    model = loaded.model
    with torch.no_grad():
        users, items = model() if name != "pinsage" else (model.user_embeddings(),
                                                          model.item_embeddings())
        scores = model.scorer()(torch.arange(NUM_USERS))
    np.testing.assert_array_equal(data["user_embeddings"], users.detach().numpy())
    np.testing.assert_array_equal(data["item_embeddings"], items.detach().numpy())
    assert data["user_ids"].tolist() == [f"u{u}" for u in range(NUM_USERS)]
    assert data["item_ids"].dtype == np.int64
    assert data["item_ids"].tolist() == loaded.item_ids.raw_ids
    assert data["item_names"].tolist() == loaded.item_names
    # the exported inner products are the model's scores
    np.testing.assert_allclose(data["user_embeddings"] @ data["item_embeddings"].T,
                               scores.numpy(), rtol=1e-5, atol=1e-6)


def test_export_without_embeddings_is_a_clear_error(saved, tmp_path, capsys):
    assert main(["export", "--model-dir", str(saved["popularity"]), "--output",
                 str(tmp_path / "e.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Popularity has no user and item embeddings" in err
    assert not (tmp_path / "e.npz").exists()


@pytest.mark.parametrize("kind", ["faiss-flat", "faiss-ivf", "faiss-hnsw"])
def test_faiss_index_search_matches_exact_inner_products(saved, tmp_path, capsys, kind):
    faiss = pytest.importorskip("faiss")
    output = tmp_path / "emb.npz"
    assert main(["export", "--model-dir", str(saved["mf"]), "--output", str(output),
                 "--index", kind]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == [str(output),
                                                           str(tmp_path / "emb.faiss")]
    data = np.load(output)
    index = faiss.read_index(str(tmp_path / "emb.faiss"))
    assert index.ntotal == NUM_ITEMS
    queries = data["user_embeddings"]
    found_scores, found = index.search(queries, 10)
    exact = queries @ data["item_embeddings"].T
    exact_top = np.argsort(-exact, axis=1, kind="stable")[:, :10]
    if kind == "faiss-flat":
        np.testing.assert_allclose(found_scores, np.take_along_axis(exact, exact_top, 1),
                                   rtol=1e-5, atol=1e-5)
        # same items, up to the order of exact ties
        assert all(set(a) == set(b) for a, b in zip(found.tolist(), exact_top.tolist(),
                                                         strict=True))
    else:
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.tolist(),
                                                                   exact_top.tolist(),
                                                                   strict=True)])
        assert recall >= 0.9
    # ids are rows of item_ids; scores are the inner products of those rows
    np.testing.assert_allclose(found_scores, np.take_along_axis(exact, found, 1), rtol=1e-5,
                               atol=1e-5)


def test_missing_optional_packages_are_one_line_errors(saved, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises ImportError
    assert main(["export", "--model-dir", str(saved["mf"]), "--output",
                 str(tmp_path / "e.npz"), "--index", "faiss-flat"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--index faiss-flat needs faiss" in err
    assert not (tmp_path / "e.npz").exists()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["export", "--model-dir", str(saved["mf"]), "--output", str(tmp_path / "p"),
                 "--format", "parquet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--format parquet needs pyarrow" in err


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_export_parquet_writes_users_and_items(saved, tmp_path, capsys):
    import pyarrow.parquet as pq

    folder = tmp_path / "parquet"
    assert main(["export", "--model-dir", str(saved["mf"]), "--output", str(folder),
                 "--format", "parquet"]) == 0
    capsys.readouterr()
    users, items = pq.read_table(folder / "users.parquet"), pq.read_table(
        folder / "items.parquet")
    loaded = graphrec.load(saved["mf"])
    with torch.no_grad():
        user_emb, item_emb = loaded.model()
    assert users.column("id").to_pylist() == [f"u{u}" for u in range(NUM_USERS)]
    np.testing.assert_array_equal(np.asarray(users.column("embedding").to_pylist(),
                                             dtype=np.float32), user_emb.detach().numpy())
    assert items.column("id").to_pylist() == loaded.item_ids.raw_ids
    assert items.column("name").to_pylist() == loaded.graph[ITEM].name
    np.testing.assert_array_equal(np.asarray(items.column("embedding").to_pylist(),
                                             dtype=np.float32), item_emb.detach().numpy())


def test_approximate_indexes_find_most_exact_neighbours_of_a_larger_catalogue():
    pytest.importorskip("faiss")
    from graphrec.serve import faiss_index

    rng = np.random.default_rng(0)
    items = rng.normal(size=(3000, 16)).astype(np.float32)
    queries = rng.normal(size=(200, 16)).astype(np.float32)
    exact = np.argsort(-(queries @ items.T), axis=1)[:, :10]
    recall = {}
    for kind in ("faiss-flat", "faiss-ivf", "faiss-hnsw"):
        _, found = faiss_index(kind, items).search(queries, 10)
        recall[kind] = np.mean([len(set(a) & set(b)) / 10
                                for a, b in zip(found.tolist(), exact.tolist(), strict=True)])
    # measured: flat 1.0, IVF (54 lists, nprobe 13) 0.86, HNSW 1.0
    assert recall["faiss-flat"] == 1.0
    assert recall["faiss-ivf"] > 0.75 and recall["faiss-hnsw"] > 0.95
    with pytest.raises(ValueError, match="index kind must be one of"):
        faiss_index("faiss-lsh", items)
