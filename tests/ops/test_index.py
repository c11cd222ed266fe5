"""ItemIndex: the exact path against torch.topk over all scores, faiss kinds behind the same
call, multi-interest merging."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphrec.ops.index import ItemIndex, exact_topk, merge_interests


def _vectors(num_items=500, dim=8, num_queries=37, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(num_items, dim, generator=g),
            torch.randn(num_queries, dim, generator=g))


@pytest.mark.parametrize("max_scores", [2**24, 100, 1])  # one chunk; many; one item each
def test_exact_matches_topk_over_all_scores(max_scores):
    items, queries = _vectors()
    scores, ids = ItemIndex(items, max_scores=max_scores).search(queries, 10)
    expected_scores, expected_ids = (queries @ items.t()).topk(10, dim=1)
    torch.testing.assert_close(ids, expected_ids, rtol=0, atol=0)
    torch.testing.assert_close(scores, expected_scores)


def test_exact_pads_when_k_exceeds_the_catalogue():
    items, queries = _vectors(num_items=4)
    scores, ids = exact_topk(items, queries, 6)
    assert ids.shape == (37, 6)
    assert (ids[:, 4:] == -1).all() and torch.isinf(scores[:, 4:]).all()
    expected_scores, expected_ids = (queries @ items.t()).topk(4, dim=1)
    torch.testing.assert_close(ids[:, :4], expected_ids, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_exact_on_cuda_matches_topk():
    items, queries = _vectors(num_items=5000, dim=32)
    scores, ids = ItemIndex(items.cuda(), max_scores=4096).search(queries, 20)
    assert ids.device.type == "cpu"  # answers come back on the queries' device
    expected_scores, expected_ids = (queries.cuda() @ items.cuda().t()).topk(20, dim=1)
    torch.testing.assert_close(ids, expected_ids.cpu(), rtol=0, atol=0)
    torch.testing.assert_close(scores, expected_scores.cpu(), rtol=1e-4, atol=1e-4)


def _reference_multi(items, queries, k):
    """Each item's score is its largest over the interests; top k of those."""
    best = torch.einsum("bkd,nd->bkn", queries, items).amax(1)
    return best.topk(k, dim=1)


def test_multi_interest_merge_keeps_each_items_best_score():
    items, _ = _vectors()
    queries = torch.randn(9, 4, 8, generator=torch.Generator().manual_seed(5))
    scores, ids = ItemIndex(items).search(queries, 15)
    expected_scores, expected_ids = _reference_multi(items, queries, 15)
    torch.testing.assert_close(ids, expected_ids, rtol=0, atol=0)
    torch.testing.assert_close(scores, expected_scores)
    assert all(len(set(row)) == 15 for row in ids.tolist())  # no item twice


def test_merge_interests_by_hand():
    # two interests found item 7 (scores 1 and 3) and item 2 twice: each kept once, best score
    scores = torch.tensor([[1.0, 0.5, 3.0, 2.0, float("-inf")]])
    ids = torch.tensor([[7, 2, 7, 2, -1]])
    top_scores, top_ids = merge_interests(scores, ids, 3)
    assert top_ids.tolist() == [[7, 2, -1]]
    assert top_scores[0, :2].tolist() == [3.0, 2.0] and top_scores[0, 2] == float("-inf")


@pytest.mark.parametrize("kind", ["faiss-flat", "faiss-ivf", "faiss-hnsw"])
def test_faiss_kinds_behind_the_same_call(kind):
    pytest.importorskip("faiss")
    items, queries = _vectors(num_items=3000, dim=16, num_queries=100)
    exact_scores, exact_ids = ItemIndex(items).search(queries, 10)
    index = ItemIndex(items.numpy(), kind, **({"nprobe": 54} if kind == "faiss-ivf" else {}))
    assert index.num_items == 3000 and index.embedding_dim == 16
    scores, ids = index.search(queries, 10)
    assert ids.dtype == torch.long and scores.shape == (100, 10)
    recall = np.mean([len(set(a) & set(b)) / 10
                      for a, b in zip(ids.tolist(), exact_ids.tolist(), strict=True)])
    assert recall >= 0.99 if kind != "faiss-hnsw" else recall >= 0.95
    # scores are the inner products of the returned items
    torch.testing.assert_close(scores, (queries @ items.t()).gather(1, ids), rtol=1e-4,
                               atol=1e-4)
    if kind == "faiss-flat":
        torch.testing.assert_close(scores, exact_scores, rtol=1e-4, atol=1e-4)
    # multi-interest through faiss merges like the exact path
    multi = queries[:20].reshape(10, 2, 16)
    m_scores, m_ids = index.search(multi, 10)
    e_scores, e_ids = _reference_multi(items, multi, 10)
    if kind != "faiss-hnsw":
        torch.testing.assert_close(m_scores, e_scores, rtol=1e-4, atol=1e-4)
    else:
        assert np.mean([len(set(a) & set(b)) / 10 for a, b in
                        zip(m_ids.tolist(), e_ids.tolist(), strict=True)]) >= 0.95


def test_serialize_round_trip_and_search_params():
    faiss = pytest.importorskip("faiss")
    items, queries = _vectors(num_items=2000, dim=16)
    ivf = ItemIndex(items, "faiss-ivf", nlist=40, nprobe=1)
    low = ivf.search(queries, 10)[1]
    ivf.set_search_params(nprobe=40)  # every list: exact
    exact = ItemIndex(items).search(queries, 10)[1]
    torch.testing.assert_close(ivf.search(queries, 10)[1], exact, rtol=0, atol=0)
    assert not torch.equal(low, ivf.search(queries, 10)[1])
    loaded = ItemIndex.from_faiss(faiss.deserialize_index(ivf.serialize()))
    assert loaded.kind == "faiss-ivf" and loaded.num_items == 2000
    torch.testing.assert_close(loaded.search(queries, 10)[1], ivf.search(queries, 10)[1],
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match="nprobe is an IVF setting"):
        ItemIndex(items, "faiss-flat").set_search_params(nprobe=3)


def test_bad_input_is_named():
    items, queries = _vectors()
    with pytest.raises(ValueError, match="index kind must be one of"):
        ItemIndex(items, "lsh")
    with pytest.raises(ValueError, match=r"queries must be \[B, 8\]"):
        ItemIndex(items).search(queries[:, :3], 5)
    with pytest.raises(ValueError, match="k must be"):
        ItemIndex(items).search(queries, 0)
    with pytest.raises(TypeError, match="faiss settings"):
        ItemIndex(items, nprobe=3)
    with pytest.raises(ValueError, match="non-empty floating"):
        ItemIndex(torch.arange(6).reshape(3, 2))
    with pytest.raises(ValueError, match="only faiss indexes serialise"):
        ItemIndex(items).serialize()
