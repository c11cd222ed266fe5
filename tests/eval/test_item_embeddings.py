import itertools

import pytest
import torch

from graphrec.eval.item_embeddings import (
    CosineItemScorer,
    auc,
    corrupt_pairs,
    evaluate_item_embeddings,
    evaluate_recall,
    prepare_item_embedding_task,
)
from graphrec.graph.build import build_interaction_graph
from graphrec.graph.sessions import item_graph
from graphrec.models.popularity import Popularity


def _brute_auc(pos, neg):
    total = sum(1.0 if p > n else 0.5 if p == n else 0.0
                for p, n in itertools.product(pos.tolist(), neg.tolist()))
    return total / (len(pos) * len(neg))


def test_auc_equals_pairwise_count_with_ties():
    pos = torch.tensor([0.9, 0.5, 0.5, 0.1, 0.7])
    neg = torch.tensor([0.5, 0.2, 0.9, 0.0])
    assert auc(pos, neg) == pytest.approx(_brute_auc(pos, neg))
    assert auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert auc(torch.tensor([1.0]), torch.tensor([1.0])) == 0.5
    with pytest.raises(ValueError):
        auc(torch.tensor([]), torch.tensor([1.0]))


def test_corrupt_pairs_avoid_known_edges_and_self():
    known = torch.tensor([0 * 5 + 1, 0 * 5 + 2, 1 * 5 + 2])  # {0,1} {0,2} {1,2}
    pairs = torch.tensor([[0, 1, 2, 0], [1, 2, 0, 2]])
    neg = corrupt_pairs(pairs, torch.arange(5), known, 5, torch.Generator().manual_seed(0))
    assert neg[0].tolist() == [0, 1, 2, 0]
    for i, j in neg.t().tolist():
        assert i != j and min(i, j) * 5 + max(i, j) not in known.tolist()


def _events(num_users=30, num_items=24, per_user=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    users = torch.arange(num_users).repeat_interleave(per_user)
    # each user walks within one block of 8 items: clustered co-occurrence
    block = (users % 3) * 8
    items = block + torch.randint(8, (users.numel(),), generator=generator)
    times = torch.arange(users.numel()) * 100
    return build_interaction_graph(users.numpy(), items.numpy(), times=times.numpy(),
                                   user_ids=list(range(num_users)),
                                   item_ids=list(range(num_items)))


def test_task_holds_out_pairs_and_cold_items_from_training():
    task = prepare_item_embedding_task(_events(), max_gap=1000, seed=0)
    train_pairs = set(map(tuple, task.train_graph.edge_index.t().tolist()))
    for i, j in task.held_out.t().tolist():
        assert (i, j) not in train_pairs and (j, i) not in train_pairs
    cold = task.cold.nonzero().view(-1).tolist()
    assert len(cold) == round(0.1 * 24)
    assert not any(i in cold or j in cold for i, j in train_pairs)
    assert not bool(task.cold[task.train_sessions.items].any())
    assert bool(task.cold[task.cold_pos[0]].all()) and torch.equal(task.cold_pos[0],
                                                                    task.cold_neg[0])
    full = item_graph(task.sessions)
    for i, j in task.test_neg.t().tolist():
        assert not bool(full.has_edge(torch.tensor(i), torch.tensor(j)))
        assert not bool(full.has_edge(torch.tensor(j), torch.tensor(i)))
    held = {(min(i, j), max(i, j)) for i, j in task.held_out.t().tolist()}
    assert {(min(i, j), max(i, j)) for i, j in task.test_pos.t().tolist()} == held
    # the target is never a training interaction; queries are the last training item
    assert not bool(task.train.contains(task.target.users, task.target.indices).any())
    assert bool((task.query[task.recall_users] >= 0).all())


def test_block_embeddings_score_perfect_link_prediction_and_recall_beats_popularity():
    task = prepare_item_embedding_task(_events(), max_gap=1000, seed=0)
    block_embedding = torch.nn.functional.one_hot(torch.arange(24) // 8, 3).float()
    metrics = evaluate_item_embeddings(block_embedding, task, cold_embeddings=block_embedding)
    assert metrics["auc"] > 0.95
    assert metrics["cold_auc"] is not None and metrics["cold_auc"] > 0.9
    assert evaluate_item_embeddings(block_embedding, task)["cold_auc"] is None
    popularity = Popularity(task.num_users, task.num_items)
    popularity.fit(task.train)
    assert metrics["hr@10"] >= evaluate_recall(popularity, task)["hr@10"]
    scorer = CosineItemScorer(block_embedding).item_scorer()
    user = int(task.recall_users[0])
    scores = scorer(task.query[[user]])[0]
    assert scores[int(task.query[user])] == pytest.approx(1.0)


def test_recall_masks_the_users_training_items_and_matches_a_hand_ranking():
    """evaluate_recall = ItemToItemEvaluator(mask_history=True): per recall user, rank all
    items by cosine similarity to the query, drop the user's training items, HR@k of the
    held-out target — recomputed here by hand."""
    task = prepare_item_embedding_task(_events(), max_gap=1000, seed=0)
    embedding = torch.randn(24, 4, generator=torch.Generator().manual_seed(1))
    metrics = evaluate_recall(CosineItemScorer(embedding), task, ks=(3, 10))
    unit = torch.nn.functional.normalize(embedding, dim=-1)
    hits = {3: [], 10: []}
    for user in task.recall_users.tolist():
        scores = unit[int(task.query[user])] @ unit.t()
        seen = task.train.indices[task.train.users == user]
        scores[seen] = float("-inf")
        target = int(task.target.indices[task.target.users == user][0])
        rank = int((scores > scores[target]).sum())
        for k in hits:
            hits[k].append(float(rank < k))
    for k, values in hits.items():
        assert metrics[f"hr@{k}"] == pytest.approx(sum(values) / len(values))
