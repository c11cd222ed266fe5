"""Errors raised on bad input files.

Every error the data layer raises about its inputs is a :class:`DataError`, so a caller
(the CLI) can report any of them in one place. Each is also a subclass of the built-in
exception it refines, so code that catches ``ValueError`` or ``OSError`` keeps working:

* :class:`DataFormatError` (``ValueError``): a file's *contents* are wrong. Arbitrary
  bytes written to a data file raise this and nothing else.
* :class:`DataNotFoundError` (``FileNotFoundError``): files that are absent and could
  not (or may not: ``download=False``, ``GRAPHREC_OFFLINE=1``) be downloaded.
* :class:`DataAccessError` (``OSError``): a file that exists but cannot be read
  (permission denied, a directory where a file is expected).
"""
from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Base class of the data layer's errors about its inputs."""


class DataFormatError(DataError, ValueError):
    """A data file that cannot be read as expected.

    The message names the file, the 1-based line (when one is at fault) and the problem,
    e.g. ``user_artists.dat, line 7: expected 3 columns separated by '\\t', got 2``.
    """

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {problem}")


class DataNotFoundError(DataError, FileNotFoundError):
    """Data files that are absent and could not be downloaded."""


class DataAccessError(DataError, OSError):
    """A data file that exists but cannot be read: ``cannot read F: permission denied``,
    ``F is a directory, expected a file``."""
