"""What models train on: negative samplers and training batches."""
from graphrec.sampling.batches import PairBatch, PairBatches
from graphrec.sampling.negative import NegativeSampler

__all__ = ["NegativeSampler", "PairBatch", "PairBatches"]
