"""The tutorials' Python code runs as written.

Each tutorial's ```` ```python ```` blocks run in order in one namespace (later blocks use
what earlier ones defined), in a temporary working directory. A block whose opening fence
follows a ``<!-- no-test -->`` line (blank lines between allowed) is skipped: it shows an API
the page documents but this test does not exercise.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
NO_TEST = "<!-- no-test -->"
TUTORIALS = ["tutorial_lightgcnconv.md", "tutorial_your_data.md"]


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(first code line, code, skipped)`` for every ```` ```python ```` block of a
    Markdown text; lines are numbered from 1."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if re.fullmatch(r"\s*```python\s*", lines[i]):
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            skipped = j >= 0 and lines[j].strip() == NO_TEST
            end = i + 1
            while end < len(lines) and not re.fullmatch(r"\s*```\s*", lines[end]):
                end += 1
            if end == len(lines):
                raise ValueError(f"line {i + 1}: ```python block is never closed")
            blocks.append((i + 2, "\n".join(lines[i + 1:end]), skipped))
            i = end
        i += 1
    return blocks


def run_blocks(path: Path) -> int:
    """Runs the blocks of ``path`` that are not skipped; returns how many ran. A failure's
    traceback points at the Markdown file and line."""
    namespace: dict = {"__name__": "__tutorial__"}
    ran = 0
    for line, code, skipped in python_blocks(path.read_text(encoding="utf-8")):
        if skipped:
            continue
        # pad so that line numbers in tracebacks are the Markdown file's
        exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
        ran += 1
    return ran


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # tutorials may write files (a sample data set)
    assert run_blocks(DOCS / name) >= 3


def test_blocks_are_found_and_marked_ones_skipped():
    text = "\n".join([
        "# title",                 # 1
        "```python",               # 2
        "a = 1",                   # 3
        "```",                     # 4
        NO_TEST,                   # 5
        "",                        # 6
        "```python",               # 7
        "raise SystemExit",        # 8
        "```",                     # 9
        "```bash",                 # 10
        "echo not python",         # 11
        "```",                     # 12
        "```python",               # 13
        "b = a + 1",               # 14
        "c = b",                   # 15
        "```",                     # 16
    ])
    assert python_blocks(text) == [(3, "a = 1", False), (8, "raise SystemExit", True),
                                   (14, "b = a + 1\nc = b", False)]
    with pytest.raises(ValueError, match="line 2"):
        python_blocks("x\n```python\ny = 1\n")


def test_failure_points_at_the_markdown_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nx = 1\ny = undefined_name\n```\n")
    with pytest.raises(NameError) as error:
        run_blocks(page)
    frame = error.traceback[-1]
    assert Path(str(frame.path)) == page and frame.lineno + 1 == 5
