"""Atomic file writes and strict JSON, shared by checkpoints, saved models and results.

Every write goes to a temporary file in the destination's folder, is flushed to disk, and
replaces the destination with one ``os.replace``: a run killed mid-write leaves the previous
file intact, never a truncated one. JSON is written without NaN or infinity (they become
``null``), so any JSON reader can read it. This module imports nothing from graphrec (it is at
the bottom of the import order, with ``graph`` and ``ops``).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it to ``path``.

    Raises ``IsADirectoryError`` when ``path`` is a folder. The parent folder is created.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, expected a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj, path)``, atomically."""
    import torch

    return atomic_write(path, lambda file: torch.save(obj, file))


def json_safe(value: Any) -> Any:
    """``value`` with NaN/infinite floats as ``None``, tuples as lists and NumPy/torch scalars
    as Python numbers (recursively), ready for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item())
    return value


def write_json(path: str | Path, value: Any) -> Path:
    """Writes ``value`` as indented strict JSON (no NaN: see :func:`json_safe`), atomically."""
    text = json.dumps(json_safe(value), indent=2, allow_nan=False)
    return atomic_write_text(path, text + "\n")
