"""graphrec: graph-learning recommenders on PyTorch Geometric.

The flow is data → graph → sampling → ops → nn → models → train → eval; see
``docs/architecture.md``. ``graphrec.load(folder)`` reads a model saved with
``model.save(folder)`` (:mod:`graphrec.models.saved`).
"""
from typing import Any

__version__ = "0.1.0"

# imported on first use: graphrec.models imports torch and every model
_LAZY = {"load": "graphrec.models.saved", "SavedModel": "graphrec.models.saved"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'graphrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
