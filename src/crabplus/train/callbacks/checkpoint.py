"""``ValidationStepCheckpoint``: a step checkpoint that falls on a validation step is written after it.

Lightning's ``ModelCheckpoint(every_n_train_steps=n)`` saves at the end of the training batch, *before*
that step's validation. Resumed from such a checkpoint, Lightning fast-forwards past the validation: its
results row never reaches the store and its metrics are lost. Written after the validation instead, the
checkpoint holds a finished step (Lightning's "restarted on last" case: nothing to redo); and a run killed
during the validation resumes from the previous checkpoint, so the interrupted validation runs again.
The RNG state it stores is training's, captured before the validation (``AVLLMModule``, ``rng.py``).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ["ValidationStepCheckpoint", "validates_after_this_batch"]


def validates_after_this_batch(trainer: L.Trainer) -> bool:
    """True when the fit loop will run a validation right after the current training batch."""
    if trainer.sanity_checking or not trainer.enable_validation or trainer.limit_val_batches == 0:
        return False
    epoch_loop = trainer.fit_loop.epoch_loop
    return bool(epoch_loop._should_check_val_fx(trainer.fit_loop._data_fetcher))


class ValidationStepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose step-triggered save waits for the validation of the same step."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        due = self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0
        if due and not self._should_skip_saving_checkpoint(trainer) and validates_after_this_batch(trainer):
            self._defer_save_until_validation = True  # ModelCheckpoint.on_validation_end saves it
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
