"""What models train on: negative samplers, training batches and random walks."""
from graphrec.sampling.batches import PairBatch, PairBatches
from graphrec.sampling.frequency import FrequencyEstimator
from graphrec.sampling.negative import NegativeSampler
from graphrec.sampling.ratings import RatingBatch, RatingBatches
from graphrec.sampling.walks import (
    DEFAULT_METAPATH,
    MetapathWalker,
    VisitCounts,
    WalkGraph,
    metapath_walks,
    random_walks,
    top_visited,
    visit_counts,
)

__all__ = [
    "DEFAULT_METAPATH", "FrequencyEstimator", "MetapathWalker", "NegativeSampler", "PairBatch",
    "PairBatches",
    "RatingBatch", "RatingBatches",
    "VisitCounts", "WalkGraph", "metapath_walks", "random_walks", "top_visited",
    "visit_counts",
]
