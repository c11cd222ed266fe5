"""Sampled softmax (in-batch, mixed negatives, logQ, accidental hits) and full softmax."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from graphrec.nn.losses import full_softmax_loss, sampled_softmax_loss


def _reference(query, positive, negatives=None, *, temperature=1.0, positive_ids=None,
               negative_ids=None, log_q_positive=None, log_q_negative=None, in_batch=True,
               remove_accidental_hits=True):
    """Row by row: build row i's candidate list explicitly, then -log softmax of its target."""
    total = 0.0
    batch = query.shape[0]
    for i in range(batch):
        logits = []  # (logit, is target)
        columns = range(batch) if in_batch else [i]
        for j in columns:
            if (j != i and remove_accidental_hits and positive_ids is not None
                    and positive_ids[j] == positive_ids[i]):
                continue
            s = float(query[i] @ positive[j]) / temperature
            if log_q_positive is not None:
                s -= float(log_q_positive[j])
            logits.append((s, j == i))
        if negatives is not None:
            for n in range(negatives.shape[0]):
                if (remove_accidental_hits and positive_ids is not None
                        and negative_ids[n] == positive_ids[i]):
                    continue
                s = float(query[i] @ negatives[n]) / temperature
                if log_q_negative is not None:
                    s -= float(log_q_negative[n])
                logits.append((s, False))
        top = max(s for s, _ in logits)
        log_z = top + math.log(sum(math.exp(s - top) for s, _ in logits))
        target = next(s for s, is_target in logits if is_target)
        total += log_z - target
    return total / batch


def _data(batch=6, dim=4, num_neg=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, dim, generator=g, dtype=torch.float64),
            torch.randn(batch, dim, generator=g, dtype=torch.float64),
            torch.randn(num_neg, dim, generator=g, dtype=torch.float64))


def test_in_batch_hand_computed():
    # two rows, d=1: logits [[1*2, 1*3], [1*2, 1*3]] with q=[1, 1], v=[2, 3]
    q = torch.tensor([[1.0], [1.0]])
    v = torch.tensor([[2.0], [3.0]])
    expected = 0.5 * ((math.log(math.exp(2) + math.exp(3)) - 2)
                      + (math.log(math.exp(2) + math.exp(3)) - 3))
    assert sampled_softmax_loss(q, v).item() == pytest.approx(expected)
    # logQ with q = [e^1, e^0]: corrected logits [1, 3]
    log_q = torch.tensor([1.0, 0.0])
    expected = 0.5 * ((math.log(math.exp(1) + math.exp(3)) - 1)
                      + (math.log(math.exp(1) + math.exp(3)) - 3))
    assert sampled_softmax_loss(q, v, log_q_positive=log_q).item() == pytest.approx(expected)
    # temperature 0.5 doubles the dot products before the correction
    expected = 0.5 * ((math.log(math.exp(3) + math.exp(6)) - 3)
                      + (math.log(math.exp(3) + math.exp(6)) - 6))
    got = sampled_softmax_loss(q, v, temperature=0.5, log_q_positive=log_q)
    assert got.item() == pytest.approx(expected)


def test_in_batch_without_options_is_cross_entropy_over_batch():
    q, v, _ = _data()
    expected = F.cross_entropy(q @ v.t(), torch.arange(6))
    torch.testing.assert_close(sampled_softmax_loss(q, v), expected)


@pytest.mark.parametrize("in_batch", [True, False])
@pytest.mark.parametrize("log_q", [False, True])
@pytest.mark.parametrize("remove", [False, True])
def test_against_dense_reference(in_batch, log_q, remove):
    q, v, neg = _data()
    pos_ids = torch.tensor([3, 7, 3, 1, 9, 7])  # repeated items: accidental in-batch hits
    neg_ids = torch.tensor([1, 2, 3, 4, 5])  # 1 and 3 are some rows' targets
    g = torch.Generator().manual_seed(1)
    kwargs = dict(temperature=0.7, positive_ids=pos_ids, negative_ids=neg_ids,
                  in_batch=in_batch, remove_accidental_hits=remove)
    if log_q:
        kwargs.update(log_q_positive=torch.rand(6, generator=g, dtype=torch.float64).log(),
                      log_q_negative=torch.rand(5, generator=g, dtype=torch.float64).log())
    got = sampled_softmax_loss(q, v, neg, **kwargs)
    assert got.item() == pytest.approx(_reference(q, v, neg, **kwargs), rel=1e-10)


def test_in_batch_only_reference_with_hits():
    q, v, _ = _data(batch=8)
    pos_ids = torch.tensor([0, 0, 0, 1, 2, 1, 5, 6])
    lq = torch.linspace(-3, -1, 8, dtype=torch.float64)
    got = sampled_softmax_loss(q, v, positive_ids=pos_ids, log_q_positive=lq)
    ref = _reference(q, v, positive_ids=pos_ids, log_q_positive=lq)
    assert got.item() == pytest.approx(ref, rel=1e-10)
    # the hits changed the value: masking is not a no-op
    unmasked = sampled_softmax_loss(q, v, positive_ids=pos_ids, log_q_positive=lq,
                                    remove_accidental_hits=False)
    assert unmasked.item() > got.item()


def test_full_softmax_matches_sampled_softmax_over_the_catalogue():
    g = torch.Generator().manual_seed(2)
    q = torch.randn(5, 3, generator=g, dtype=torch.float64)
    table = torch.randn(7, 3, generator=g, dtype=torch.float64)
    targets = torch.tensor([0, 6, 2, 2, 4])
    full = full_softmax_loss(q, table, targets, temperature=0.5)
    torch.testing.assert_close(full, F.cross_entropy(q @ table.t() / 0.5, targets))
    # every item as a shared negative, the target's own copy removed as an accidental hit
    sampled = sampled_softmax_loss(q, table[targets], table, temperature=0.5,
                                   positive_ids=targets, negative_ids=torch.arange(7),
                                   in_batch=False)
    torch.testing.assert_close(sampled, full)


def test_gradients_are_finite_with_masked_candidates():
    q, v, neg = _data()
    q.requires_grad_(True)
    v.requires_grad_(True)
    ids = torch.tensor([1, 1, 1, 1, 1, 1])
    loss = sampled_softmax_loss(q, v, neg, positive_ids=ids, negative_ids=torch.ones(5).long())
    # every other candidate is a hit: each row's softmax is over its target only
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    loss.backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(v.grad).all()


def _differentiable_reference(query, positive, negatives, *, positive_ids, negative_ids,
                              log_q_positive, log_q_negative, in_batch, temperature):
    """Row by row with torch ops: only the kept candidates enter each row's softmax, so
    autograd gives the exact gradient of the masked loss."""
    rows = []
    for i in range(query.shape[0]):
        columns = [j for j in (range(query.shape[0]) if in_batch else [i])
                   if j == i or positive_ids[j] != positive_ids[i]]
        kept = [n for n in range(negatives.shape[0]) if negative_ids[n] != positive_ids[i]]
        logits = torch.cat([query[i] @ positive[columns].t() / temperature
                            - log_q_positive[columns],
                            query[i] @ negatives[kept].t() / temperature
                            - log_q_negative[kept]])
        rows.append(torch.logsumexp(logits, 0) - logits[columns.index(i)])
    return torch.stack(rows).mean()


@pytest.mark.parametrize("in_batch", [True, False])
def test_gradients_match_a_reference_without_the_masked_candidates(in_batch):
    # the accidental hits are masked outside autograd (their gradient is exactly 0 through
    # the softmax): the gradients must equal those of a loss that never had them
    q, v, neg = _data(batch=8, num_neg=6, seed=3)
    g = torch.Generator().manual_seed(4)
    kwargs = dict(positive_ids=torch.tensor([3, 7, 3, 1, 9, 7, 3, 2]),
                  negative_ids=torch.tensor([1, 2, 3, 4, 3, 8]),
                  log_q_positive=torch.rand(8, generator=g, dtype=torch.float64).log(),
                  log_q_negative=torch.rand(6, generator=g, dtype=torch.float64).log(),
                  in_batch=in_batch, temperature=0.7)
    grads = []
    for loss_fn in (sampled_softmax_loss, _differentiable_reference):
        inputs = [x.clone().requires_grad_(True) for x in (q, v, neg)]
        loss = loss_fn(*inputs, **kwargs)
        loss.backward()
        grads.append((loss.detach(), *(x.grad for x in inputs)))
    for got, expected in zip(*grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    # the masked candidates were there to mask: without masking the loss differs
    unmasked = sampled_softmax_loss(q, v, neg, remove_accidental_hits=False, **kwargs)
    assert abs(unmasked.item() - grads[0][0].item()) > 1e-3


def test_bad_input_is_named():
    q, v, neg = _data()
    with pytest.raises(ValueError, match="query and positive"):
        sampled_softmax_loss(q, v[:3])
    with pytest.raises(ValueError, match="negatives must be"):
        sampled_softmax_loss(q, v, neg[:, :2])
    with pytest.raises(ValueError, match="in_batch=False needs negatives"):
        sampled_softmax_loss(q, v, in_batch=False)
    with pytest.raises(ValueError, match="temperature"):
        sampled_softmax_loss(q, v, temperature=0.0)
    with pytest.raises(ValueError, match="positive_ids must have shape"):
        sampled_softmax_loss(q, v, positive_ids=torch.arange(3))
    with pytest.raises(ValueError, match="negative_ids was given without negatives"):
        sampled_softmax_loss(q, v, negative_ids=torch.arange(3))
    with pytest.raises(ValueError, match="both log_q_positive and log_q_negative"):
        sampled_softmax_loss(q, v, neg, log_q_positive=torch.zeros(6))
    with pytest.raises(ValueError, match="needs negative_ids"):
        sampled_softmax_loss(q, v, neg, positive_ids=torch.arange(6))
    with pytest.raises(ValueError, match="targets must lie"):
        full_softmax_loss(q, neg, torch.tensor([0, 1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match="share d"):
        full_softmax_loss(q, neg[:, :2], torch.zeros(6).long())
