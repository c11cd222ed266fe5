from collections import Counter

import pytest
import torch
from scipy.stats import chisquare

from graphrec.sampling.skipgram import SkipGramBatches, SkipGramCorpus


def _corpus():
    # sequences [0 1 2], [3 4], [5] (no pair), [6 7 8 9]
    tokens = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    sequence = torch.tensor([0, 0, 0, 1, 1, 2, 5, 5, 5, 5])
    return SkipGramCorpus(tokens, sequence, 10)


def _epoch_pairs(batches):
    return Counter((c, o) for batch in batches
                   for c, o in zip(batch.center.tolist(), batch.context.tolist(), strict=True))


def test_window_one_gives_exactly_the_neighbour_pairs_in_both_directions():
    batches = SkipGramBatches(_corpus(), batch_size=3, window=1, subsample=0.0)
    expected = Counter()
    for a, b in [(0, 1), (1, 2), (3, 4), (6, 7), (7, 8), (8, 9)]:
        expected[(a, b)] += 1
        expected[(b, a)] += 1
    assert _epoch_pairs(batches) == expected
    # whatever the chunking (sequences are never split)
    small = SkipGramBatches(_corpus(), batch_size=3, window=1, subsample=0.0, chunk_tokens=2)
    assert _epoch_pairs(small) == expected


def test_dynamic_window_keeps_distance_d_with_probability_of_reach():
    corpus = SkipGramCorpus(torch.arange(200) % 10, torch.arange(200) // 10, 10)
    batches = SkipGramBatches(corpus, batch_size=10_000, window=2, subsample=0.0, seed=3)
    near = far = 0
    for _ in range(20):
        for batch in batches:
            distance = (batch.center - batch.context).abs()
            near += int((distance == 1).sum())
            far += int((distance == 2).sum())
            assert bool(((distance == 1) | (distance == 2)).all())
    # every distance-1 pair is kept; a sequence of 10 has 8 distance-2 pairs per 9 at
    # distance 1, each kept with probability 1/2 (a centre's reach is uniform in {1, 2})
    assert near == 20 * 20 * 9 * 2
    assert abs(far / (near * 8 / 9) - 0.5) < 0.03


def test_global_context_and_set_mode_stay_within_sequences():
    batches = SkipGramBatches(_corpus(), window=1, subsample=0.0, global_context=True)
    pairs = _epoch_pairs(batches)
    for item, last in [(0, 2), (1, 2), (3, 4), (6, 9), (7, 9), (8, 9)]:
        assert pairs[(item, last)] >= 1
    assert pairs[(0, 2)] == 1 and pairs[(7, 9)] == 1 and pairs[(8, 9)] == 2
    sequence_of = _corpus().sequence
    shuffled = SkipGramBatches(_corpus(), window=1, subsample=0.0, mode="set", seed=1)
    for _ in range(5):
        for batch in shuffled:
            assert torch.equal(sequence_of[batch.center], sequence_of[batch.context])


def test_negatives_follow_unigram_power():
    tokens = torch.tensor([0] * 64 + [1] * 16 + [2] * 1 + [3] * 8)
    corpus = SkipGramCorpus(tokens, torch.zeros_like(tokens), 4)
    batches = SkipGramBatches(corpus, num_negatives=4, subsample=0.0)
    draws = batches.negatives(50_000, torch.Generator().manual_seed(0)).view(-1)
    expected = torch.tensor([64, 16, 1, 8], dtype=torch.float64).pow(0.75)
    expected = expected / expected.sum() * draws.numel()
    observed = torch.bincount(draws, minlength=4)
    assert chisquare(observed.numpy(), expected.numpy()).pvalue > 1e-3


def test_subsampling_keeps_word2vec_probability():
    tokens = torch.tensor([0] * 900 + [1] * 100)
    corpus = SkipGramCorpus(tokens, torch.arange(1000) // 2, 2)
    batches = SkipGramBatches(corpus, subsample=0.01)
    # f = 0.9: sqrt(0.01/0.9) + 0.01/0.9; f = 0.1: sqrt(0.1) + 0.1
    ratio0, ratio1 = 0.01 / 0.9, 0.01 / 0.1
    assert torch.allclose(batches.keep_prob, torch.tensor(
        [ratio0 ** 0.5 + ratio0, ratio1 ** 0.5 + ratio1], dtype=torch.float64))


def test_corpus_from_walks_and_errors():
    walks = torch.tensor([[0, 1, -1], [2, 2, 1]])
    corpus = SkipGramCorpus.from_walks(walks, 3)
    assert corpus.tokens.tolist() == [0, 1, 2, 2, 1]
    assert corpus.sequence.tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="token ids"):
        SkipGramCorpus(torch.tensor([3]), torch.tensor([0]), 3)
    with pytest.raises(ValueError, match="non-decreasing"):
        SkipGramCorpus(torch.tensor([0, 1]), torch.tensor([1, 0]), 3)
    with pytest.raises(ValueError, match="mode"):
        SkipGramBatches(corpus, mode="bag")
