"""Callbacks that report (routing, transfer, gradient conflict); they never change training."""
