"""``StepProgressBar``: Lightning's rich progress bar with a description that is right for step-bounded runs.

Lightning writes ``Epoch <e>/<max_epochs - 1>``; a run bounded by ``max_steps`` on an infinite stream has
``max_epochs = -1`` and read ``Epoch 0/-2``. Here such runs read ``Steps (max N)`` and the bar counts towards N, also after a resume.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import RichProgressBar

__all__ = ["StepProgressBar", "train_description"]


def train_description(current_epoch: int, max_epochs: int | None, max_steps: int) -> str:
    """``Epoch e/E`` for epoch-bounded runs, ``Steps (max N)`` for runs bounded by ``max_steps`` only."""
    if max_epochs is not None and max_epochs > 0:
        return f"Epoch {current_epoch}/{max_epochs - 1}"
    if max_steps > 0:
        return f"Steps (max {max_steps})"
    return f"Epoch {current_epoch}"


class StepProgressBar(RichProgressBar):
    def _get_train_description(self, current_epoch: int) -> str:
        text = train_description(current_epoch, self.trainer.max_epochs, self.trainer.max_steps)
        return f"{text:{len(self.validation_description)}}"

    @property
    def total_train_batches(self) -> int | float:
        """A step-bounded run counts towards ``max_steps`` (Lightning's count is infinite on an endless
        stream, and on a resumed run it counted only what was left of the epoch)."""
        trainer = self.trainer
        if (trainer.max_epochs is None or trainer.max_epochs <= 0) and trainer.max_steps > 0:
            return trainer.max_steps * trainer.accumulate_grad_batches
        return super().total_train_batches
