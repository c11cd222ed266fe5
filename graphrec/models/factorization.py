"""Closed-form factorisations of the binary interaction matrix (SciPy), used as initial
embeddings and by closed-form baselines."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from graphrec.graph.interactions import Interactions


def interaction_matrix(train: Interactions) -> sp.csr_matrix:
    """The binary ``[num_users, num_items]`` matrix :math:`R` as SciPy CSR (float64)."""
    indptr = train.indptr.cpu().numpy()
    indices = train.indices.cpu().numpy()
    data = np.ones(len(indices), dtype=np.float64)
    return sp.csr_matrix((data, indices, indptr), shape=(train.num_users, train.num_items))


def als_factors(
    train: Interactions, dim: int, reg: float = 1.0, iterations: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    r"""Least-squares factors of the binary matrix by alternating least squares:

    .. math::
        \min_{U, V} \lVert R - U V^\top \rVert_F^2 + \lambda (\lVert U \rVert_F^2 +
        \lVert V \rVert_F^2), \quad
        U \leftarrow R V (V^\top V + \lambda I)^{-1}, \;
        V \leftarrow R^\top U (U^\top U + \lambda I)^{-1}

    Every entry of :math:`R` counts (unobserved = 0), so each half-step is exact and costs
    one sparse-dense product and a :math:`d \times d` solve. Deterministic for a seed.

    Returns:
        ``(U, V)`` of shapes ``[num_users, dim]`` and ``[num_items, dim]`` (float64).
    """
    matrix = interaction_matrix(train)
    rng = np.random.default_rng(seed)
    items = rng.normal(0.0, 0.1, size=(train.num_items, dim))
    identity = reg * np.eye(dim)
    users = np.zeros((train.num_users, dim))
    for _ in range(iterations):
        users = np.linalg.solve(items.T @ items + identity, (matrix @ items).T).T
        items = np.linalg.solve(users.T @ users + identity, (matrix.T @ users).T).T
    return users, items


def svd_factors(train: Interactions, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Truncated SVD :math:`R \approx \tilde U \Sigma \tilde V^\top` split symmetrically:
    :math:`U = \tilde U \Sigma^{1/2}`, :math:`V = \tilde V \Sigma^{1/2}` (so
    :math:`U V^\top` is the best rank-``dim`` approximation of :math:`R`).

    Singular vectors come sorted by decreasing singular value, with signs fixed so that
    each item vector's largest-magnitude entry is positive (SVD is unique only up to sign).
    """
    matrix = interaction_matrix(train)
    rank = min(dim, min(matrix.shape) - 1)
    rng = np.random.default_rng(seed)
    left, sigma, right_t = svds(matrix, k=rank, v0=rng.uniform(-1, 1, min(matrix.shape)))
    order = np.argsort(-sigma)
    left, sigma, right = left[:, order], sigma[order], right_t[order].T
    signs = np.sign(right[np.abs(right).argmax(axis=0), np.arange(rank)])
    signs[signs == 0] = 1.0
    scale = np.sqrt(sigma) * signs
    users, items = left * scale, right * scale
    if rank < dim:  # tiny matrices: pad with zero columns so shapes are always [n, dim]
        users = np.pad(users, ((0, 0), (0, dim - rank)))
        items = np.pad(items, ((0, 0), (0, dim - rank)))
    return users, items
