"""Errors raised on bad input files."""
from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
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


class DataNotFoundError(FileNotFoundError):
    """Data files that are absent and could not be downloaded."""
