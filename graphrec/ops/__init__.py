"""The propagation engine: normalised sparse operators built once, products with cheap backward."""
from graphrec.ops.sparse import NORMALIZATIONS, SparseOperator

__all__ = ["NORMALIZATIONS", "SparseOperator"]
