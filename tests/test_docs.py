"""The API reference builds from the docstrings (``docs/build_api.py``, pdoc)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_api_reference_builds(tmp_path):
    assert importlib.util.find_spec("pdoc") is not None, \
        "pdoc is missing: pip install -e '.[dev]'"
    out = tmp_path / "api"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "build_api.py"), str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (out / "index.html").is_file()
    models = (out / "graphrec" / "models.html").read_text(encoding="utf-8")
    assert "build_model" in models
    # every module gets a page, also those a sub-package's __all__ does not name
    for page in ("graphrec/models/lightgcn.html", "graphrec/graph/walk_graph.html",
                 "graphrec/nn/conv/lightgcn_conv.html", "graphrec/sampling/walks.html"):
        assert (out / page).is_file(), page
    lightgcn = (out / "graphrec" / "nn" / "conv" / "lightgcn_conv.html").read_text(
        encoding="utf-8")
    assert "LightGCNConv" in lightgcn and "reset_parameters" in lightgcn
    # __main__ is left out: importing it would run the command line
    assert not (out / "graphrec" / "__main__.html").exists()
