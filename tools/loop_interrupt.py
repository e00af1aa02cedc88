"""``StopAtStep``: end a fit cleanly after step N, as a preempted job would (used by tools/daily_loop.py).

The run keeps its full recipe (``max_steps`` of the config), so resuming from ``last.ckpt`` continues the same
run instead of starting a shorter one with another recipe fingerprint.
"""

from __future__ import annotations

import lightning as L


class StopAtStep(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True
