"""The one argument-check helper: accepted values come back as plain numbers, refused ones
raise a ValueError naming the argument, the expected range and the value."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphrec.graph.checks import check_number, shown


def test_accepts_and_returns_plain_numbers():
    value = check_number("embedding_dim", np.int64(8), integer=True, low=1)
    assert value == 8 and type(value) is int
    value = check_number("dropout", np.float32(0.5), low=0, high=1, high_open=True)
    assert value == 0.5 and type(value) is float
    assert check_number("lr", 3, low=0, low_open=True) == 3.0  # an int is a number
    assert check_number("max_seconds", None, low=0, none_ok=True) is None
    assert check_number("x", 1.0, low=0, high=1) == 1.0  # closed bounds include the bound


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (0, {"integer": True, "low": 1}, "embedding_dim must be an integer >= 1 (got 0)"),
    (3.0, {"integer": True}, "embedding_dim must be an integer (got 3.0)"),
    (True, {"integer": True}, "embedding_dim must be an integer (got True)"),
    ("64", {"integer": True}, "embedding_dim must be an integer (got '64')"),
    (1.0, {"low": 0, "high": 1, "high_open": True},
     "embedding_dim must be a finite number in [0, 1) (got 1.0)"),
    (0.0, {"low": 0, "low_open": True}, "embedding_dim must be a finite number > 0 (got 0.0)"),
    (float("nan"), {}, "embedding_dim must be a finite number (got nan)"),
    (float("inf"), {"low": 0}, "embedding_dim must be a finite number >= 0 (got inf)"),
    (None, {"low": 0}, "embedding_dim must be a finite number >= 0 (got None)"),
    (np.float64(-1.0), {"low": 0, "none_ok": True},
     "embedding_dim must be a finite number >= 0 or None (got -1.0)"),
])
def test_refuses_with_name_range_and_value(value, kwargs, message):
    with pytest.raises(ValueError) as err:
        check_number("embedding_dim", value, **kwargs)
    assert str(err.value) == message


def test_shown_prints_plain_python_values():
    assert shown(np.str_("3")) == "'3'"
    assert shown(np.int64(3)) == "3"
    assert shown(torch.tensor(2.5)) == "2.5"
    assert shown(np.array([1, 2])) == "array([1, 2])"  # not a scalar: left alone
