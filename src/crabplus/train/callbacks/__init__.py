"""Callbacks that report (routing, transfer, gradient conflict, summaries, predictions); they never change training."""

from crabplus.train.callbacks.grad_conflict import GradConflictCallback
from crabplus.train.callbacks.predictions import PredictionWriter
from crabplus.train.callbacks.progress import StepProgressBar
from crabplus.train.callbacks.routing import RoutingStatsCallback
from crabplus.train.callbacks.summary import EvalSummaryCallback
from crabplus.train.callbacks.transfer import TransferCallback

__all__ = [
    "EvalSummaryCallback",
    "GradConflictCallback",
    "PredictionWriter",
    "RoutingStatsCallback",
    "StepProgressBar",
    "TransferCallback",
]
