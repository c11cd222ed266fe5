"""graphrec: graph-learning recommenders on PyTorch Geometric.

The flow is data → graph → sampling → ops → nn → models → train → eval; see
``docs/architecture.md``.
"""
__version__ = "0.1.0"
