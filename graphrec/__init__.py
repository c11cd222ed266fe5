"""graphrec: graph-learning recommenders on PyTorch Geometric.

The import order (layers) is graph, ops → data, sampling, nn → models → eval → train →
experiment → cli; see ``docs/architecture.md``. Import the parts from their sub-packages
(``graphrec.data``, ``graphrec.models``, ...): this module imports nothing heavy eagerly,
so that importing any part of the package never loads all of it
(``tests/test_layering.py``).
"""
# no __all__ here: pdoc reads it as the list of sub-modules to document
from graphrec._version import __version__ as __version__
