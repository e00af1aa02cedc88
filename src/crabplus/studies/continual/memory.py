"""Activation memory of a training step, counted exactly on CPU.

CPU allocator statistics are not available, and RSS deltas are noisy. What patch selection reduces is
activation memory: the tensors autograd keeps for backward. `saved_activation_bytes` runs a closure
(the forward + loss of one step) under `torch.autograd.graph.saved_tensors_hooks` and sums the bytes of
every distinct storage packed for backward, leaving out parameters (they exist with or without the
step). All saved tensors are alive together at the end of the forward, so the sum is the step's peak
activation memory (before backward frees them).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["saved_activation_bytes", "step_activation_bytes"]


def saved_activation_bytes(step: Callable[[], object], module: nn.Module | None = None) -> int:
    """Bytes of distinct non-parameter storages saved for backward while running `step()`."""
    params = {p.untyped_storage().data_ptr() for p in module.parameters()} if module is not None else set()
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and ptr != 0:
            seen[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def step_activation_bytes(net: nn.Module, video: torch.Tensor, audio: torch.Tensor, warmup: int = 2) -> int:
    """Activation bytes of one training step of a `ContinualAVPretrainer` at the given batch.

    `warmup` real steps (without optimizer) first fill the replay buffer, so replay-based methods are
    measured in their steady state (current + replayed clips); the measured step's clips are not stored.
    """
    for _ in range(warmup):
        net.training_loss(video, audio)
        net.remember()
    nbytes = saved_activation_bytes(lambda: net.training_loss(video, audio), net)
    net._pending = None
    return nbytes
