"""Fixtures of the data tests."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _downloads_allowed(monkeypatch):
    """The download tests patch ``urlopen``; a ``GRAPHREC_OFFLINE`` set in the caller's
    environment must not change what they test (tests that need it set it themselves)."""
    monkeypatch.delenv("GRAPHREC_OFFLINE", raising=False)
