"""A callback that makes gradients non-finite from a given step on (the CLI's non-finite stop, tested)."""

from __future__ import annotations

import lightning as L
import torch


class NaNGradients(L.Callback):
    """Sets the first trainable gradient to NaN at every optimizer step from ``from_step`` on."""

    def __init__(self, from_step: int = 0) -> None:
        self.from_step = from_step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step < self.from_step:
            return
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.grad.fill_(torch.nan)
                    return
