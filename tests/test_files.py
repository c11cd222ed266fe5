import json
import math

import pytest
import torch

from graphrec.files import atomic_torch_save, atomic_write, json_safe, write_json


def test_write_json_replaces_nan_and_is_strict(tmp_path):
    path = write_json(tmp_path / "a" / "r.json", {"x": math.nan, "y": (1, math.inf),
                                                  "z": torch.tensor(0.5)})
    assert json.loads(path.read_text()) == {"x": None, "y": [1, None], "z": 0.5}
    assert json_safe([-math.inf]) == [None]


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {"old": 1})

    def broken(file):
        file.write(b"{partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert json.loads(path.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        write_json(tmp_path, {})


def test_atomic_torch_save_round_trips(tmp_path):
    atomic_torch_save({"w": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.equal(torch.load(tmp_path / "c.pt", weights_only=True)["w"], torch.arange(3))
