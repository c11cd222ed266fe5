"""Evaluation: ranking metrics, the full-ranking evaluator and the rating evaluator."""
from graphrec.eval.evaluator import EvalResult, Evaluator
from graphrec.eval.metrics import METRICS, ranking_metrics
from graphrec.eval.ratings import RatingEvaluator

__all__ = ["METRICS", "EvalResult", "Evaluator", "RatingEvaluator", "ranking_metrics"]
