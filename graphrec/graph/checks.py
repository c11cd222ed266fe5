"""Argument checks at the library's boundary: one helper, shared by every layer.

Constructors, configs and splits call :func:`check_number` on their numeric arguments so
that a bad value fails where it is passed, with the argument's name and what was
expected, instead of deep inside training (``embedding_dim=0`` scoring everything 0,
``batch_size=0`` dividing by zero, ``num_layers=-1`` averaging over zero layers).
It lives in the bottom layer (``graph/``) so that every package may import it.
"""
from __future__ import annotations

import math
import numbers
from typing import Any


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def shown(value: Any) -> str:
    """``repr`` of a value for a message, NumPy and torch scalars as the plain Python value
    (``3`` and ``'3'``, not ``np.int64(3)`` and ``np.str_('3')``)."""
    if (type(value).__module__ in ("numpy", "torch") and getattr(value, "ndim", None) == 0
            and hasattr(value, "item")):
        value = value.item()
    return repr(value)


def check_number(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    none_ok: bool = False,
) -> Any:
    """Checks that ``value`` is a finite number in an interval and returns it as a plain
    Python ``int`` (``integer=True``) or ``float``.

    Args:
        name: the argument's name, as the caller spells it (used in the message).
        value: what was passed.
        integer: require an integer (Python or NumPy; ``bool`` and ``3.0`` are refused:
            a float where a count is expected is a mistake, not a value to round).
        low, high: bounds (``None``: unbounded on that side).
        low_open, high_open: exclude the bound itself (``low=0, low_open=True``: ``> 0``).
        none_ok: accept ``None`` (returned as is), for optional settings.

    Raises:
        ValueError: e.g. ``embedding_dim must be an integer >= 1 (got 0)``,
            ``dropout must be a finite number in [0, 1) (got 1.0)``.
    """
    if value is None and none_ok:
        return None
    kind = "an integer" if integer else "a finite number"
    bounds = _interval(low, high, low_open, high_open)
    expected = f"{kind} {bounds}".rstrip() + (" or None" if none_ok else "")
    if isinstance(value, bool) or not isinstance(
            value, numbers.Integral if integer else numbers.Real):
        raise ValueError(f"{name} must be {expected} (got {shown(value)})")
    out = int(value) if integer else float(value)
    inside = math.isfinite(out)
    if inside and low is not None:
        inside = out > low if low_open else out >= low
    if inside and high is not None:
        inside = out < high if high_open else out <= high
    if not inside:
        raise ValueError(f"{name} must be {expected} (got {shown(value)})")
    return out


__all__ = ["check_number", "shown"]


def check_group(name: str, value: Any, group: type) -> Any:
    """``value`` if it is an instance of the settings dataclass ``group``, else a
    ``ValueError`` naming the argument (configuration files give a table of its fields,
    which ``build_model`` turns into the dataclass; constructors take the dataclass)."""
    if not isinstance(value, group):
        raise ValueError(f"{name} must be {group.__name__}(...) (got {shown(value)}); "
                         f"build_model and configuration files take a table of its fields")
    return value
