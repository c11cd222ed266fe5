"""UserKNN: user-based top-k nearest-neighbour collaborative filtering."""
from __future__ import annotations

from collections.abc import Callable

import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.models.closed_form import ClosedFormRecommender, csr_rows, scipy_to_csr
from graphrec.models.registry import register
from graphrec.models.similarity import check_similarity_arguments, neighbour_similarity


@register("userknn")
class UserKNN(ClosedFormRecommender):
    r"""User-based CF (`Herlocker et al., SIGIR 1999 <https://doi.org/10.1145/312624.312682>`_,
    for implicit feedback):

    .. math::
        \hat y_{ui} = \sum_{v \in N_k(u)} s_{uv}\, r_{vi}, \qquad \hat Y_B = S_B R

    with :math:`s_{uv}` the similarity of user :math:`u` to user :math:`v` over the items of
    the binary training matrix (:mod:`graphrec.models.similarity`: cosine or Aiolli's
    asymmetric cosine, TF-IDF / BM25 weighting of the items, the popularity penalty
    :math:`1/\ln(1 + |U(i)|)` of popular items, shrinkage) and :math:`N_k(u)` the
    ``num_neighbours`` users most similar to :math:`u`. :math:`S` is sparse (one row per
    user); a batch's scores are one sparse × sparse product. No parameters: :meth:`fit`
    computes :math:`S`.

    Defaults chosen on validation carve-outs of ML-100K and LastFM (``docs/models.md``,
    "Classic CF and graph filters"): cosine with TF-IDF item weights and the popularity
    penalty, shrinkage 10, 50 neighbours.

    Args:
        num_users, num_items: index space sizes.
        num_neighbours: :math:`k`, neighbours kept per user.
        shrink: :math:`\lambda` added to the similarity's denominator.
        similarity: ``"cosine"`` or ``"asymmetric"``.
        alpha: the asymmetric cosine's exponent of the target user's norm.
        weighting: ``"none"``, ``"tfidf"`` or ``"bm25"`` weighting of the items.
        popular_item_penalty: weight each item's co-occurrences by :math:`1/\ln(1 + |U(i)|)`.
        bm25_k1, bm25_b: BM25's :math:`k_1` and :math:`b` (``weighting="bm25"`` only).
    """

    def __init__(self, num_users: int, num_items: int, num_neighbours: int = 50,
                 shrink: float = 10.0, similarity: str = "cosine", alpha: float = 0.5,
                 weighting: str = "tfidf", popular_item_penalty: bool = True,
                 bm25_k1: float = 1.2, bm25_b: float = 0.75) -> None:
        super().__init__(num_users, num_items)
        check_similarity_arguments(num_neighbours, shrink, similarity, alpha, weighting,
                                   bm25_k1, bm25_b)
        self.num_neighbours, self.shrink = int(num_neighbours), float(shrink)
        self.similarity, self.alpha, self.weighting = similarity, float(alpha), weighting
        self.popular_item_penalty = bool(popular_item_penalty)
        self.bm25_k1, self.bm25_b = float(bm25_k1), float(bm25_b)
        self.user_similarity: Tensor | None = None  # S: [user, neighbour] CSR

    def fit_matrix(self, matrix: sp.csr_matrix) -> None:
        neighbours = neighbour_similarity(
            sp.csr_matrix(matrix.T), self.num_neighbours, shrink=self.shrink,
            similarity=self.similarity, alpha=self.alpha, weighting=self.weighting,
            penalty=self.popular_item_penalty, bm25_k1=self.bm25_k1, bm25_b=self.bm25_b)
        self.user_similarity = scipy_to_csr(neighbours, self.device)

    sparse_state = ("train_matrix", "user_similarity")

    def scorer(self) -> Callable[[Tensor], Tensor]:
        similarity = self.sparse_on_device("user_similarity")
        train = self.sparse_on_device("train_matrix")

        def score(users: Tensor) -> Tensor:
            rows = csr_rows(similarity, torch.as_tensor(users, device=self.device))
            return torch.sparse.mm(rows, train).to_dense()

        return score

    def score_rows(self, rows: Tensor) -> Tensor:
        """New users (not among the training users) given by their item rows: their top-k
        training neighbours by :func:`~graphrec.models.similarity.neighbour_similarity` with
        ``queries`` (the
        fitted settings; weights counted with the new users included), then
        :math:`S_B R`."""
        train = self.sparse_on_device("train_matrix")
        queries = sp.csr_matrix((rows.values().cpu().double().numpy(),
                                 rows.col_indices().cpu().numpy(),
                                 rows.crow_indices().cpu().numpy()), shape=tuple(rows.shape))
        train_cpu = train.cpu()
        matrix = sp.csr_matrix((train_cpu.values().double().numpy(),
                                train_cpu.col_indices().numpy(),
                                train_cpu.crow_indices().numpy()), shape=tuple(train.shape))
        neighbours = neighbour_similarity(
            sp.csr_matrix(matrix.T), self.num_neighbours, shrink=self.shrink,
            similarity=self.similarity, alpha=self.alpha, weighting=self.weighting,
            penalty=self.popular_item_penalty, bm25_k1=self.bm25_k1, bm25_b=self.bm25_b,
            queries=sp.csr_matrix(queries.T))  # [H, num_users]
        return torch.sparse.mm(scipy_to_csr(neighbours, self.device), train).to_dense()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_users}, {self.num_items}, "
                f"num_neighbours={self.num_neighbours}, shrink={self.shrink}, "
                f"similarity={self.similarity!r}, alpha={self.alpha}, "
                f"weighting={self.weighting!r}, "
                f"popular_item_penalty={self.popular_item_penalty})")
