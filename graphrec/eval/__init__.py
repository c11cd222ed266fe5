"""Evaluation: ranking metrics and the full-ranking evaluator."""
from graphrec.eval.evaluator import EvalResult, Evaluator
from graphrec.eval.metrics import METRICS, ranking_metrics

__all__ = ["METRICS", "EvalResult", "Evaluator", "ranking_metrics"]
