"""Non-finite loss and gradient guard: skip the step, count it, stop after too many.

A NaN in one step should not destroy a long run, but a run producing NaNs every step is broken and must
stop loudly while the last good checkpoint is still intact (checkpoints are written atomically).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from crabplus.errors import CrabplusError

__all__ = ["NonFiniteError", "NonFiniteGuard", "grads_are_finite"]


class NonFiniteError(CrabplusError, RuntimeError):
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

    def skip(self, step: int, what: str, checkpoint: str | None = None) -> str:
        """Record one skipped step and return its one-line notice; raise :class:`NonFiniteError` when over
        the limit (``checkpoint``: the run's last checkpoint, named in the message)."""
        self.skipped += 1
        if self.skipped > self.max_skipped_steps:
            where = (
                f"the last checkpoint {checkpoint} holds the state before them; resume with --ckpt_path {checkpoint}"
                if checkpoint
                else "no checkpoint was written before them"
            )
            raise NonFiniteError(
                f"non-finite {what} at step {step}: {self.skipped} steps skipped, more than "
                f"model.init_args.max_skipped_steps={self.max_skipped_steps}; the run stops, {where} "
                "(lower the learning rate or find the bad batch)"
            )
        return (
            f"step {step}: non-finite {what}, optimizer step skipped "
            f"({self.skipped} of {self.max_skipped_steps} tolerated, model.init_args.max_skipped_steps)"
        )
