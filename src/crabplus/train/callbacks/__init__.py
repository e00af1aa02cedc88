"""Callbacks that report (routing, transfer, gradient conflict); they never change training."""

from crabplus.train.callbacks.grad_conflict import GradConflictCallback
from crabplus.train.callbacks.routing import RoutingStatsCallback
from crabplus.train.callbacks.transfer import TransferCallback

__all__ = ["GradConflictCallback", "RoutingStatsCallback", "TransferCallback"]
