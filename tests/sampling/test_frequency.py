"""Yi et al.'s streaming frequency estimator: a hand-computed case, a per-bucket reference,
resuming from a state_dict, and the Zipf accuracy bar."""
from __future__ import annotations

import pytest
import torch

from graphrec.sampling.frequency import FrequencyEstimator


def _distinct_buckets(est: FrequencyEstimator, ids: list[int]) -> bool:
    flat = est._flat_buckets(torch.tensor(ids))
    return all(len(set(row.tolist())) == len(ids) for row in flat)


def test_hand_computed_stream():
    est = FrequencyEstimator(num_buckets=1000, num_hashes=1, alpha=0.5)
    assert _distinct_buckets(est, [0, 1, 2])
    est.update(torch.tensor([0]))  # t=1: B=.5, C=.5 -> gap 1
    torch.testing.assert_close(est.gap(torch.tensor([0])), torch.tensor([1.0], dtype=torch.float64))
    est.update(torch.tensor([1]))  # t=2: item 1 B=1, C=.5 -> gap 2
    est.update(torch.tensor([0]))  # t=3: item 0 B=.25+.5*2=1.25, C=.75
    torch.testing.assert_close(est.gap(torch.tensor([0])),
                               torch.tensor([1.25 / 0.75], dtype=torch.float64))
    est.update(torch.tensor([0, 0]))  # t=5, two hits: B=.625+.5*2=1.625, C=.375+.5*2=1.375
    got = est.probability(torch.tensor([[0, 1], [2, 0]]))
    expected = torch.tensor([[1.375 / 1.625, 0.5], [1 / 5, 1.375 / 1.625]], dtype=torch.float64)
    torch.testing.assert_close(got, expected)  # unseen item 2: 1 / elapsed time
    assert int(est.time) == 5


def test_one_event_per_step_is_the_papers_recursion():
    # Algorithm 2 with B starting at 0, then divided by 1 - (1 - alpha)^hits
    alpha = 0.1
    est = FrequencyEstimator(num_buckets=4096, num_hashes=1, alpha=alpha)
    stream = torch.randint(0, 20, (300,), generator=torch.Generator().manual_seed(0))
    assert _distinct_buckets(est, list(range(20)))
    a, b, hits = {}, {}, {}
    for t, item in enumerate(stream.tolist(), start=1):
        est.update(torch.tensor([item]))
        b[item] = (1 - alpha) * b.get(item, 0.0) + alpha * (t - a.get(item, 0))
        a[item] = t
        hits[item] = hits.get(item, 0) + 1
    items = sorted(b)
    expected = torch.tensor([b[i] / (1 - (1 - alpha) ** hits[i]) for i in items],
                            dtype=torch.float64)
    torch.testing.assert_close(est.gap(torch.tensor(items)), expected)


def test_batched_update_matches_a_per_bucket_reference_with_collisions():
    alpha, m, hashes = 0.2, 7, 3  # few buckets: many collisions
    est = FrequencyEstimator(num_buckets=m, num_hashes=hashes, alpha=alpha, seed=3)
    g = torch.Generator().manual_seed(1)
    last = [[0] * m for _ in range(hashes)]
    elapsed = [[0.0] * m for _ in range(hashes)]
    occ = [[0.0] * m for _ in range(hashes)]
    now = 0
    for _ in range(30):
        ids = torch.randint(-5, 40, (int(torch.randint(1, 9, (1,), generator=g)),),
                            generator=g)
        est.update(ids)
        now += ids.numel()
        buckets = est._flat_buckets(ids) - torch.arange(hashes).unsqueeze(1) * m
        for k in range(hashes):
            counts: dict[int, int] = {}
            for bucket in buckets[k].tolist():
                counts[bucket] = counts.get(bucket, 0) + 1
            for bucket, c in counts.items():
                elapsed[k][bucket] = (1 - alpha) * elapsed[k][bucket] + alpha * (
                    now - last[k][bucket])
                occ[k][bucket] = (1 - alpha) * occ[k][bucket] + alpha * c
                last[k][bucket] = now
    query = torch.arange(-5, 40)
    buckets = est._flat_buckets(query) - torch.arange(hashes).unsqueeze(1) * m
    expected = []
    for j in range(query.numel()):
        gaps = [elapsed[k][b] / occ[k][b] if occ[k][b] > 0 else float(now)
                for k, b in enumerate(buckets[:, j].tolist())]
        expected.append(max(gaps))
    torch.testing.assert_close(est.gap(query), torch.tensor(expected, dtype=torch.float64))


def test_state_dict_resumes_the_stream():
    g = torch.Generator().manual_seed(2)
    steps = [torch.randint(0, 100, (16,), generator=g) for _ in range(20)]
    whole = FrequencyEstimator(num_buckets=64, alpha=0.05)
    for ids in steps:
        whole.update(ids)
    first = FrequencyEstimator(num_buckets=64, alpha=0.05)
    for ids in steps[:10]:
        first.update(ids)
    resumed = FrequencyEstimator(num_buckets=64, alpha=0.05, seed=99)  # hashes come from state
    resumed.load_state_dict(first.state_dict())
    for ids in steps[10:]:
        resumed.update(ids)
    torch.testing.assert_close(resumed.probability(torch.arange(100)),
                               whole.probability(torch.arange(100)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        FrequencyEstimator(alpha=0.0)
    with pytest.raises(ValueError, match="num_buckets"):
        FrequencyEstimator(num_buckets=0)
    with pytest.raises(ValueError, match="num_hashes"):
        FrequencyEstimator(num_hashes=0)
    with pytest.raises(TypeError, match="integer"):
        FrequencyEstimator(num_buckets=8).update(torch.tensor([1.0]))


def test_zipf_stream_top_items_within_ten_percent(load_benchmark):
    # 1e6 events over 1e5 items, Zipf exponent 1, batches of 1024, alpha 0.01, 2 hashes
    errors, _ = load_benchmark("frequency").zipf_relative_errors()
    assert errors.median() <= 0.10, float(errors.median())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(4)
    steps = [torch.randint(0, 1000, (64,), generator=g) for _ in range(10)]
    cpu, gpu = FrequencyEstimator(num_buckets=512), FrequencyEstimator(num_buckets=512).cuda()
    for ids in steps:
        cpu.update(ids)
        gpu.update(ids.cuda())
    torch.testing.assert_close(gpu.probability(torch.arange(1000).cuda()).cpu(),
                               cpu.probability(torch.arange(1000)))
