"""The propagation engine: normalised sparse operators built once, products with cheap
backward, on the fastest measured SpMM backend (or the one you force)."""
from graphrec.ops.backends import (
    ENV_VAR,
    PREFERENCE,
    SpMMBackend,
    available_backends,
    backend_names,
    backend_timings,
    get_backend,
    get_backend_impl,
    is_available,
    register_backend,
    select_backend,
    set_backend,
)
from graphrec.ops.sparse import NORMALIZATIONS, SparseOperator

__all__ = ["ENV_VAR", "NORMALIZATIONS", "PREFERENCE", "SparseOperator", "SpMMBackend",
           "available_backends", "backend_names", "backend_timings", "get_backend",
           "get_backend_impl", "is_available", "register_backend", "select_backend",
           "set_backend"]
