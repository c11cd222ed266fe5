"""graphrec: graph-learning recommenders on PyTorch Geometric.

The import order (layers) is graph, ops → data, sampling, nn → models → eval → train →
experiment → cli; see ``docs/architecture.md``. Import the parts from their sub-packages
(``graphrec.data``, ``graphrec.models``, ...): this module imports nothing heavy eagerly,
so that importing any part of the package never loads all of it
(``tests/test_layering.py``). ``graphrec.load(folder)`` reads a model saved with
``model.save(folder)`` (:mod:`graphrec.models.saved`).
"""
# no __all__ here: pdoc reads it as the list of sub-modules to document
from typing import Any

from graphrec._version import __version__ as __version__

# imported on first use: graphrec.models imports torch and every model
_LAZY = {"load": "graphrec.models.saved", "SavedModel": "graphrec.models.saved"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'graphrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
