"""Shared test fixtures.

Real data sets live outside the repository (their licences forbid copying them in): in
``$GRAPHREC_DATA`` or else ``<repo>/../shared/data``. Tests that need them are marked
``@pytest.mark.realdata``; when the data is absent they FAIL (not skip) so that a missing
data folder can never pass as a green test run.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_data_root() -> Path:
    """Where the real data should be: ``$GRAPHREC_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get("GRAPHREC_DATA")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def _missing_message(root: Path) -> str:
    return (f"real data not found at {root}: set GRAPHREC_DATA to the data folder (with "
            "lastfm/, ml-100k/, ...) or put it at <repo>/../shared/data")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("realdata") is not None:
        root = find_data_root()
        if not root.is_dir():
            pytest.fail(_missing_message(root), pytrace=False)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data folder; fails the test (never skips) when it is absent."""
    root = find_data_root()
    if not root.is_dir():
        pytest.fail(_missing_message(root), pytrace=False)
    return root


@pytest.fixture(scope="session")
def lastfm(data_root: Path):
    """Last.fm HetRec 2011 loaded once per session (about 2 s)."""
    from graphrec.data import load_lastfm

    return load_lastfm(data_root, download=False)


@pytest.fixture(scope="session")
def lastfm_sociallgn(data_root: Path):
    """The SocialLGN Last.fm split loaded once per session."""
    from graphrec.data import load_lastfm_sociallgn

    return load_lastfm_sociallgn(data_root)


def _script_loader(folder: str):
    """``load(name)``: the module ``<folder>/<name>.py``, imported from its file (examples and
    benchmarks are scripts, not packages)."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"{folder}_{name}",
                                                      REPO_ROOT / folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def load_example():
    """``load_example("lastfm_social")``: the module ``examples/lastfm_social.py``."""
    return _script_loader("examples")


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark("frequency")``: the module ``benchmarks/frequency.py``."""
    return _script_loader("benchmarks")
