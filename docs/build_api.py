"""Builds the API reference from the docstrings with pdoc (``pip install -e ".[dev]"``).

    python docs/build_api.py                # -> docs/api-build/ (git-ignored)
    python docs/build_api.py OUT_DIR

Every module of the package gets a page: the sub-packages' ``__all__`` lists what they
re-export, and pdoc would otherwise stop at it, so the modules are passed explicitly.
Docstrings are reStructuredText (Sphinx roles, ``:math:``), rendered with MathJax.
"""
from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules() -> list[str]:
    """``graphrec`` and every module under it, ``__main__`` excepted (importing it runs the
    CLI)."""
    sys.path.insert(0, str(ROOT))
    found = ["graphrec"] + [m.name for m in pkgutil.walk_packages([str(ROOT / "graphrec")],
                                                                  prefix="graphrec.")]
    return [name for name in found if not name.endswith("__main__")]


def build(output_dir: Path) -> list[str]:
    """Writes the HTML reference into ``output_dir``; returns the documented modules."""
    import pdoc
    import pdoc.render

    names = modules()
    # a package's spec also walks its children; listing them again only repeats them
    warnings.filterwarnings("ignore", message="The module specification .* adds a module named")
    pdoc.render.configure(docformat="restructuredtext", math=True,
                          footer_text=f"graphrec {_version()}")
    pdoc.pdoc(*names, output_directory=Path(output_dir))
    return names


def _version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "graphrec" / "_version.py").read_text(), namespace)
    return namespace["__version__"]


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "api-build"
    documented = build(out)
    print(f"{len(documented)} modules -> {out / 'index.html'}")
