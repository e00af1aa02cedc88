"""Non-finite loss and gradient guard: skip the step, count it, stop after too many.

A NaN in one step should not destroy a long run, but a run producing NaNs every step is broken and must
stop loudly while the last good checkpoint is still intact (checkpoints are written atomically).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["NonFiniteError", "NonFiniteGuard", "grads_are_finite"]


class NonFiniteError(RuntimeError):
    """Raised when more than ``max_skipped_steps`` steps had a non-finite loss or gradient."""


def grads_are_finite(params: Iterable[torch.nn.Parameter]) -> bool:
    """True when every existing gradient is finite (one fused reduction, not one sync per tensor)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    flags = torch.stack([torch.isfinite(g).all() for g in grads])
    return bool(flags.all())


class NonFiniteGuard:
    """Counts skipped steps and raises once more than ``max_skipped_steps`` were skipped.

    Args:
        max_skipped_steps: how many non-finite steps are tolerated in a run (0 = stop at the first).
    """

    def __init__(self, max_skipped_steps: int = 10) -> None:
        self.max_skipped_steps = max_skipped_steps
        self.skipped = 0
        self.loss_nonfinite = False  # the current step's loss, set in training_step, read before the step

    def observe_loss(self, loss: torch.Tensor) -> None:
        """Note whether this step's loss is finite (the optimizer hook then skips the step if it is not)."""
        self.loss_nonfinite = not bool(torch.isfinite(loss))

    def skip(self, step: int, what: str) -> None:
        """Record one skipped step; raise :class:`NonFiniteError` when over the limit."""
        self.skipped += 1
        if self.skipped > self.max_skipped_steps:
            raise NonFiniteError(
                f"non-finite {what} at step {step}: {self.skipped} steps skipped, more than "
                f"model.max_skipped_steps={self.max_skipped_steps}. The run stops; the last checkpoint "
                "(runs/<run>/checkpoints/last.ckpt) holds the state before the bad steps."
            )
