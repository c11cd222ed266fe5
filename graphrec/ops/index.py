"""One retrieval interface over item vectors scored by inner product.

:class:`ItemIndex` answers "the ``k`` items of largest :math:`\\mathbf{q}^\\top \\mathbf{v}_i`"
for a batch of queries, whatever answers underneath: ``"exact"`` (batched matrix products and
:func:`torch.topk` on the vectors' device, CPU or CUDA) or faiss (``pip install
graphrec[faiss]``): ``"faiss-flat"`` (exact, ``IndexFlatIP``), ``"faiss-ivf"`` (inverted
lists, ``IndexIVFFlat``) and ``"faiss-hnsw"`` (``IndexHNSWFlat``), all with the inner-product
metric. Multi-interest queries ``[B, K, d]`` (one vector per interest, e.g. MIND) are searched
with every interest and merged: an item found by several interests keeps its largest score.
``graphrec export --index`` writes the faiss index built here.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

#: The kinds of :class:`ItemIndex`.
KINDS = ("exact", "faiss-flat", "faiss-ivf", "faiss-hnsw")
#: The faiss kinds (what ``graphrec export --index`` writes).
FAISS_KINDS = KINDS[1:]


def require_faiss(what: str) -> Any:
    """The faiss module; ``ImportError`` naming ``what`` needs it and the package otherwise."""
    try:
        import faiss
    except ImportError:
        raise ImportError(f"{what} needs faiss: pip install graphrec[faiss] "
                          "(faiss-cpu)") from None
    return faiss


def faiss_index(kind: str, vectors: np.ndarray | Tensor, *, nlist: int | None = None,
                nprobe: int | None = None, hnsw_m: int = 32, ef_search: int = 128,
                ef_construction: int = 40) -> Any:
    r"""An inner-product faiss index of ``vectors`` ``[n, d]`` (as float32).

    ``"faiss-flat"``: exact (``IndexFlatIP``). ``"faiss-ivf"``: ``IndexIVFFlat`` with
    ``nlist`` lists (default about :math:`\sqrt n`, at most :math:`n / 39`: the training
    points per list faiss asks for), trained on the vectors, probing ``nprobe`` lists (default
    a quarter of them). ``"faiss-hnsw"``: ``IndexHNSWFlat`` with ``hnsw_m`` links per node,
    ``ef_construction`` and ``ef_search``. Search settings are saved with the index.
    """
    if kind not in FAISS_KINDS:
        raise ValueError(f"index kind must be one of {FAISS_KINDS} (got {kind!r})")
    faiss = require_faiss(f"index kind {kind!r}")
    vectors = _as_float32_numpy(vectors, "vectors")
    count, dim = vectors.shape
    if kind == "faiss-flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "faiss-ivf":
        if nlist is None:
            nlist = max(1, min(int(math.sqrt(count)), count // 39))
        if not 1 <= nlist <= count:
            raise ValueError(f"nlist must lie in [1, {count}] (got {nlist})")
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist,
                                   faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 4) if nprobe is None else nprobe
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    index.add(vectors)
    return index


def _as_float32_numpy(array: np.ndarray | Tensor, name: str) -> np.ndarray:
    if isinstance(array, Tensor):
        array = array.detach().float().cpu().numpy()
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty [n, d] array (got shape {array.shape})")
    return array


def exact_topk(vectors: Tensor, queries: Tensor, k: int, max_scores: int = 2**24
               ) -> tuple[Tensor, Tensor]:
    r"""Exact inner-product top-``k``: ``(scores [B, k], ids [B, k])``, best first, on
    ``vectors``' device; the same as ``torch.topk(queries @ vectors.T, k)`` up to the order
    of ties, without ever holding more than about ``max_scores`` scores (queries in blocks of
    at most 1024, items in chunks; each chunk's top-``k`` is kept, then merged). Where
    ``k`` exceeds the catalogue the extra columns are id ``-1``, score :math:`-\infty`."""
    num_items = vectors.shape[0]
    queries = queries.to(device=vectors.device, dtype=vectors.dtype)
    kept = min(k, num_items)
    query_block = max(1, min(queries.shape[0], 1024))
    item_chunk = max(kept, max_scores // query_block)
    all_scores, all_ids = [], []
    for block in queries.split(query_block):
        chunk_scores, chunk_ids = [], []
        for start in range(0, num_items, item_chunk):
            scores = block @ vectors[start:start + item_chunk].t()
            top_scores, top_ids = scores.topk(min(kept, scores.shape[1]), dim=1)
            chunk_scores.append(top_scores)
            chunk_ids.append(top_ids + start)
        scores, order = torch.cat(chunk_scores, dim=1).topk(kept, dim=1)
        all_scores.append(scores)
        all_ids.append(torch.cat(chunk_ids, dim=1).gather(1, order))
    scores, ids = torch.cat(all_scores), torch.cat(all_ids)
    if kept < k:
        scores = torch.cat([scores, scores.new_full((scores.shape[0], k - kept),
                                                    float("-inf"))], dim=1)
        ids = torch.cat([ids, ids.new_full((ids.shape[0], k - kept), -1)], dim=1)
    return scores, ids


def merge_interests(scores: Tensor, ids: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Merges each row's candidates ``[B, M]`` (several interests' top lists) into its top
    ``k`` distinct items, an item keeping its largest score (missing: id ``-1``,
    :math:`-\\infty`)."""
    # best first, then a stable sort by id: the first of a run of equal ids is its best
    scores, order = scores.sort(dim=1, descending=True)
    ids = ids.gather(1, order)
    ids, by_id = ids.sort(dim=1, stable=True)
    scores = scores.gather(1, by_id)
    repeat = torch.zeros_like(ids, dtype=torch.bool)
    repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
    scores = scores.masked_fill(repeat | (ids < 0), float("-inf"))
    top_scores, top = scores.topk(min(k, scores.shape[1]), dim=1)
    top_ids = ids.gather(1, top).masked_fill(top_scores == float("-inf"), -1)
    if top_ids.shape[1] < k:
        pad = k - top_ids.shape[1]
        top_scores = torch.cat([top_scores, top_scores.new_full((len(top_scores), pad),
                                                                float("-inf"))], dim=1)
        top_ids = torch.cat([top_ids, top_ids.new_full((len(top_ids), pad), -1)], dim=1)
    return top_scores, top_ids


class ItemIndex:
    r"""Inner-product top-``k`` retrieval over item vectors ``[I, d]``, exact or with faiss,
    behind one :meth:`search`.

    Args:
        vectors: ``[I, d]`` item vectors (row ``i`` is item ``i``); ``"exact"`` keeps the
            tensor and searches on its device, faiss kinds copy it as float32 to the CPU.
        kind: one of :data:`KINDS`.
        max_scores: ``"exact"``: the most scores held at once (memory bound).
        **faiss_args: ``nlist``, ``nprobe``, ``hnsw_m``, ``ef_search``, ``ef_construction``
            (see :func:`faiss_index`).

    Shapes:
        - :meth:`search`: queries ``[B, d]``, or ``[B, K, d]`` for ``K`` interests per query
          → ``(scores [B, k], ids [B, k])``, best first, on the queries' device; id ``-1``
          (score :math:`-\infty`) where fewer than ``k`` items were found.
    """

    def __init__(self, vectors: Tensor | np.ndarray, kind: str = "exact", *,
                 max_scores: int = 2**24, **faiss_args: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"index kind must be one of {KINDS} (got {kind!r})")
        self.kind = kind
        self.max_scores = max_scores
        if kind == "exact":
            if faiss_args:
                raise TypeError(f"{sorted(faiss_args)} are faiss settings; kind='exact' "
                                "takes none")
            vectors = torch.as_tensor(vectors)
            if vectors.dim() != 2 or vectors.shape[0] == 0 or not vectors.is_floating_point():
                raise ValueError("vectors must be a non-empty floating [n, d] tensor (got "
                                 f"{vectors.dtype} {tuple(vectors.shape)})")
            self.vectors: Tensor | None = vectors.detach()
            self.faiss: Any = None
            self.num_items, self.embedding_dim = vectors.shape
        else:
            self.vectors = None
            self.faiss = faiss_index(kind, vectors, **faiss_args)
            self.num_items, self.embedding_dim = int(self.faiss.ntotal), int(self.faiss.d)

    @classmethod
    def from_faiss(cls, index: Any) -> ItemIndex:
        """Wraps a faiss index (e.g. one read from ``graphrec export``'s ``.faiss`` file)."""
        faiss = require_faiss("ItemIndex.from_faiss")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError("the faiss index must use the inner-product metric")
        # the downcast view does not own the index: keep ``index`` itself alive
        base = faiss.downcast_index(index)
        kind = ("faiss-ivf" if isinstance(base, faiss.IndexIVF) else
                "faiss-hnsw" if isinstance(base, faiss.IndexHNSW) else "faiss-flat")
        self = cls.__new__(cls)
        self.kind, self.max_scores, self.vectors = kind, 2**24, None
        self.faiss, self._faiss_owner = base, index
        self.num_items, self.embedding_dim = int(base.ntotal), int(base.d)
        return self

    def set_search_params(self, *, nprobe: int | None = None, ef_search: int | None = None
                          ) -> ItemIndex:
        """Changes IVF's ``nprobe`` or HNSW's ``efSearch`` without rebuilding; returns self."""
        if nprobe is not None:
            if self.kind != "faiss-ivf":
                raise ValueError(f"nprobe is an IVF setting (this index is {self.kind!r})")
            self.faiss.nprobe = nprobe
        if ef_search is not None:
            if self.kind != "faiss-hnsw":
                raise ValueError(f"ef_search is an HNSW setting (this index is {self.kind!r})")
            self.faiss.hnsw.efSearch = ef_search
        return self

    def serialize(self) -> np.ndarray:
        """The faiss index as bytes (``uint8`` array; what ``faiss.deserialize_index``
        reads); faiss kinds only."""
        if self.faiss is None:
            raise ValueError("only faiss indexes serialise; kind='exact' is its vectors")
        return require_faiss("serialize").serialize_index(self.faiss)

    def search(self, queries: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """The ``k`` items of largest inner product with each query (see the class)."""
        if k < 1:
            raise ValueError(f"k must be >= 1 (got {k})")
        queries = torch.as_tensor(queries)
        if queries.dim() not in (2, 3) or queries.shape[-1] != self.embedding_dim:
            raise ValueError(f"queries must be [B, {self.embedding_dim}] or "
                             f"[B, K, {self.embedding_dim}] (got {tuple(queries.shape)})")
        if queries.shape[0] == 0:
            return (torch.empty(0, k, device=queries.device),
                    torch.empty(0, k, dtype=torch.long, device=queries.device))
        if queries.dim() == 3:
            batch, interests, dim = queries.shape
            scores, ids = self._search(queries.reshape(batch * interests, dim), k)
            return merge_interests(scores.reshape(batch, interests * k),
                                   ids.reshape(batch, interests * k), k)
        return self._search(queries, k)

    def _search(self, queries: Tensor, k: int) -> tuple[Tensor, Tensor]:
        if self.vectors is not None:
            scores, ids = exact_topk(self.vectors, queries, k, self.max_scores)
            return scores.to(queries.device), ids.to(queries.device)
        scores, ids = self.faiss.search(_as_float32_numpy(queries, "queries"), k)
        scores, ids = torch.from_numpy(scores), torch.from_numpy(ids).long()
        scores = scores.masked_fill(ids < 0, float("-inf"))  # faiss pads with -3.4e38
        return scores.to(queries.device), ids.to(queries.device)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(kind={self.kind!r}, num_items={self.num_items}, "
                f"embedding_dim={self.embedding_dim})")


__all__ = ["FAISS_KINDS", "KINDS", "ItemIndex", "exact_topk", "faiss_index", "merge_interests",
           "require_faiss"]
