r"""Neighbourhood similarities for ItemKNN and UserKNN: weighted, penalised, shrunk cosine
(or asymmetric cosine) between the columns of a sparse matrix, top-:math:`k` per column.

The compared vectors are the columns of :math:`X \in \{0,1\}^{F \times N}` (items over users
for ItemKNN; users over items for UserKNN) and its rows are the *features* (users for ItemKNN,
items for UserKNN). With :math:`\mathrm{df}_f` the number of non-zeros of feature row
:math:`f` and :math:`\ell_c` the number of non-zeros of column :math:`c`:

1. **weighting** (the columns are the documents, the features the terms):

   - ``"none"``: :math:`W = X`;
   - ``"tfidf"``: :math:`W_{fc} = X_{fc}\,\mathrm{idf}_f`,
     :math:`\mathrm{idf}_f = \ln\frac{1 + N}{1 + \mathrm{df}_f} + 1` (smoothed, positive);
   - ``"bm25"``: :math:`W_{fc} = \frac{X_{fc}(k_1 + 1)}{X_{fc} + k_1(1 - b + b\,\ell_c /
     \bar\ell)}\,\mathrm{idf}_f`, :math:`\mathrm{idf}_f = \ln\bigl(1 + \frac{N -
     \mathrm{df}_f + 0.5}{\mathrm{df}_f + 0.5}\bigr)` (Robertson's, kept positive as in
     Lucene), :math:`\bar\ell` the mean column length.

   Both down-weight features that occur in many columns: active users in item similarity,
   popular items in user similarity.
2. **feature penalty** (optional): each feature's contribution to the inner product is
   multiplied by :math:`p_f = 1 / \ln(1 + \mathrm{df}_f)`: the inverse user frequency of
   active users in item similarity ("ItemCF-IUF", after Breese et al. 1998) and the penalty
   of popular items in user similarity ("UserCF-IIF").
3. **similarity** of target :math:`t` to neighbour :math:`n \neq t`:

   .. math::
       s_{tn} = \frac{\sum_f p_f W_{ft} W_{fn}}
                     {\lVert W_{:t}\rVert^{2\alpha}\,\lVert W_{:n}\rVert^{2(1-\alpha)}
                      + \lambda}

   with :math:`\lambda` the shrinkage. ``"cosine"`` is :math:`\alpha = 1/2`;
   ``"asymmetric"`` is Aiolli's asymmetric cosine (`"Efficient Top-N Recommendation for Very
   Large Scale Binary Rated Datasets" <https://doi.org/10.1145/2507157.2507189>`_, RecSys
   2013), where the *target* carries :math:`\alpha`: for binary data and :math:`\alpha = 1`,
   :math:`s_{tn} = |U(t) \cap U(n)| / |U(t)|`, the share of the target's users who also
   have the neighbour, which penalises popular targets. The norms are those of :math:`W`
   (the penalty only enters the numerator, as in ItemCF-IUF).
4. **top-k**: each target keeps its ``num_neighbours`` most similar neighbours (ties to
   the lower index); everything else is dropped (the result stays sparse).

The product :math:`X^\top P X` is computed for blocks of targets whose number of partial
products is bounded (:data:`BLOCK_PRODUCTS`), so memory stays bounded on large data.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

WEIGHTINGS = ("none", "tfidf", "bm25")
SIMILARITIES = ("cosine", "asymmetric")
#: at most this many partial products per block of targets (bounds the block's memory)
BLOCK_PRODUCTS = 20_000_000


def check_similarity_arguments(num_neighbours: int, shrink: float, similarity: str,
                               alpha: float, weighting: str, bm25_k1: float,
                               bm25_b: float) -> None:
    """``ValueError`` naming the first out-of-range argument."""
    if num_neighbours < 1:
        raise ValueError(f"num_neighbours must be positive (got {num_neighbours})")
    if shrink < 0:
        raise ValueError(f"shrink must be >= 0 (got {shrink})")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES} (got {similarity!r})")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (got {alpha})")
    if similarity == "cosine" and alpha != 0.5:
        raise ValueError(f"alpha={alpha} only applies to similarity='asymmetric' (cosine is "
                         "alpha=0.5)")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS} (got {weighting!r})")
    if bm25_k1 < 0 or not 0.0 <= bm25_b <= 1.0:
        raise ValueError(f"bm25_k1 must be >= 0 and bm25_b in [0, 1] (got {bm25_k1}, {bm25_b})")


def feature_weighting(matrix: sp.csr_matrix, weighting: str = "none", bm25_k1: float = 1.2,
                      bm25_b: float = 0.75) -> sp.csr_matrix:
    """:math:`W` of the module docstring: ``matrix`` ``[F, N]`` (features × columns) with
    TF-IDF or BM25 weights (a float64 copy)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS} (got {weighting!r})")
    weighted = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    if weighting == "none":
        return weighted
    num_columns = weighted.shape[1]
    df = np.diff(weighted.indptr).astype(np.float64)  # non-zeros of each feature row
    row_of = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
    if weighting == "tfidf":
        idf = np.log((1.0 + num_columns) / (1.0 + df)) + 1.0
        weighted.data *= idf[row_of]
        return weighted
    idf = np.log1p((num_columns - df + 0.5) / (df + 0.5))
    length = np.bincount(weighted.indices, minlength=num_columns).astype(np.float64)
    mean_length = length.mean() if num_columns else 1.0
    norm = bm25_k1 * (1.0 - bm25_b + bm25_b * length / mean_length)
    tf = weighted.data
    weighted.data = tf * (bm25_k1 + 1.0) / (tf + norm[weighted.indices]) * idf[row_of]
    return weighted


def feature_penalty(matrix: sp.csr_matrix) -> np.ndarray:
    r""":math:`p_f = 1 / \ln(1 + \mathrm{df}_f)` per feature row (0 for empty rows, which
    contribute nothing anyway)."""
    df = np.diff(sp.csr_matrix(matrix).indptr).astype(np.float64)
    penalty = np.zeros_like(df)
    np.divide(1.0, np.log1p(df), out=penalty, where=df > 0)
    return penalty


def top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keeps the ``k`` largest stored entries of each row (ties: the lower column index);
    vectorised: one lexicographic sort of all entries."""
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((matrix.indices, -matrix.data, rows))  # by row, value desc, column
    rank = np.arange(order.size) - matrix.indptr[rows[order]]
    keep = order[rank < k]
    out = sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])),
                        shape=matrix.shape)
    out.sort_indices()
    return out


def _similarity_block(left: sp.csr_matrix, right: sp.csr_matrix, target_part: np.ndarray,
                      neighbour_part: np.ndarray, shrink: float, num_neighbours: int,
                      self_offset: int | None) -> sp.csr_matrix:
    """Top-k similarities of the targets ``left`` ``[T, F]`` (weighted rows) to the columns of
    ``right`` ``[F, N]`` (weighted and penalised); target ``t`` is column ``self_offset + t``
    of ``right`` (excluded as its own neighbour) unless ``self_offset`` is ``None``."""
    block = (left @ right).tocoo()
    keep = block.data != 0
    if self_offset is not None:
        keep &= block.col != block.row + self_offset
    rows, cols, values = block.row[keep], block.col[keep], block.data[keep]
    values = values / (target_part[rows] * neighbour_part[cols] + shrink)
    block = sp.csr_matrix((values, (rows, cols)), shape=(left.shape[0], right.shape[1]))
    return top_k_per_row(block, num_neighbours)


def neighbour_similarity(
    matrix: sp.csr_matrix,
    num_neighbours: int,
    shrink: float = 0.0,
    similarity: str = "cosine",
    alpha: float = 0.5,
    weighting: str = "none",
    penalty: bool = False,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    block_products: int = BLOCK_PRODUCTS,
    queries: sp.csr_matrix | None = None,
) -> sp.csr_matrix:
    """Top-``num_neighbours`` similarities between the columns of ``matrix`` ``[F, N]``
    (module docstring).

    ``queries`` ``[F, H]`` (optional): new columns (UserKNN's new users) as the targets
    instead, each against the ``N`` columns of ``matrix``. The document frequencies behind the
    weighting and the penalty are then counted over ``matrix`` and ``queries`` together, as if
    the new columns had been part of the matrix (for a few new columns this changes them
    negligibly).

    Returns:
        ``[N, N]`` CSR (float64): row :math:`t` holds target :math:`t`'s neighbours
        :math:`n` with :math:`s_{tn}` (never :math:`t` itself); with ``queries``, ``[H, N]``.
    """
    check_similarity_arguments(num_neighbours, shrink, similarity, alpha, weighting, bm25_k1,
                               bm25_b)
    if queries is not None:
        num = matrix.shape[1]
        binary = sp.csr_matrix(sp.hstack([matrix, queries], format="csr"))
        weighted = sp.csc_matrix(feature_weighting(binary, weighting, bm25_k1, bm25_b))
        alpha = 0.5 if similarity == "cosine" else alpha
        norm_sq = np.asarray(weighted.multiply(weighted).sum(0)).ravel()
        right = weighted[:, :num]
        if penalty:
            right = sp.diags(feature_penalty(binary)) @ right
        return _similarity_block(sp.csr_matrix(weighted[:, num:].T), sp.csr_matrix(right),
                                 norm_sq[num:] ** alpha, norm_sq[:num] ** (1.0 - alpha), shrink,
                                 num_neighbours, self_offset=None)
    binary = sp.csr_matrix(matrix)
    weighted = feature_weighting(binary, weighting, bm25_k1, bm25_b)
    if similarity == "cosine":
        alpha = 0.5
    norm_sq = np.asarray(weighted.multiply(weighted).sum(0)).ravel()
    target_part = norm_sq ** alpha
    neighbour_part = norm_sq ** (1.0 - alpha)
    right = weighted
    if penalty:
        right = sp.csr_matrix(sp.diags(feature_penalty(binary)) @ weighted)
    left = sp.csr_matrix(weighted.T)  # [N, F]: target rows
    num = binary.shape[1]
    # partial products of target t: sum over its features f of nnz(row f)
    row_nnz = np.diff(binary.indptr).astype(np.float64)
    work = np.cumsum(sp.csr_matrix(binary.T, dtype=np.float64) @ row_nnz)
    cuts = np.searchsorted(work, np.arange(block_products, work[-1] if num else 0,
                                           block_products), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [num]]))
    blocks = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):  # blocks of targets
        blocks.append(_similarity_block(left[start:stop], right, target_part[start:stop],
                                        neighbour_part, shrink, num_neighbours,
                                        self_offset=start))
    if not blocks:
        return sp.csr_matrix((num, num))
    return sp.csr_matrix(sp.vstack(blocks, format="csr"))
