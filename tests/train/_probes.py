"""Callbacks that training subprocesses of the scale/reliability tests load from their YAML configs.

Imported by class path ``tests.train._probes.<Name>`` (the tests put the repository root on PYTHONPATH).
Each reads its setting from an environment variable, so one config serves the killed and the clean run:

* ``CRABPLUS_TEST_KILL_AT_STEP=N``: SIGKILL this process when global step N starts (after N optimizer
  steps, before the (N+1)-th batch) — a machine dying between checkpoints.
* ``CRABPLUS_TEST_KILL_IN_SAVE=N``: SIGKILL this process while the checkpoint of step N is being pickled
  — a machine dying during a save.
* ``CRABPLUS_TEST_RECORD_DIR=DIR``: append ``{"step", "group", "tasks"}`` of every training batch to
  ``DIR/rank<r>.jsonl`` (the modality group is read from the batch's media keys, not from the mixture).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L

from crabplus.data.batch import ENCODED_MEDIA


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value else None


class KillAtStep(L.Callback):
    """SIGKILLs the process at the start of global step ``CRABPLUS_TEST_KILL_AT_STEP`` (unset: never)."""

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == _env_int("CRABPLUS_TEST_KILL_AT_STEP"):
            os.kill(os.getpid(), signal.SIGKILL)


class KillInValidation(L.Callback):
    """SIGKILLs the process in the validation of global step ``CRABPLUS_TEST_KILL_IN_VALIDATION`` (unset:
    never), before any of its results reach the store."""

    def on_validation_batch_start(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not trainer.sanity_checking and trainer.global_step == _env_int(
            "CRABPLUS_TEST_KILL_IN_VALIDATION"
        ):
            os.kill(os.getpid(), signal.SIGKILL)


class _Bomb:
    """Kills the process when pickled, i.e. in the middle of ``torch.save``."""

    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)


class KillInSave(L.Callback):
    """Puts a :class:`_Bomb` into the checkpoint of step ``CRABPLUS_TEST_KILL_IN_SAVE`` (unset: never)."""

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if trainer.global_step == _env_int("CRABPLUS_TEST_KILL_IN_SAVE"):
            checkpoint["bomb"] = _Bomb()


class BatchRecorder(L.Callback):
    """Writes each training batch's global step, modality group and tasks to ``<dir>/rank<r>.jsonl``."""

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        folder = os.environ.get("CRABPLUS_TEST_RECORD_DIR")
        if not folder:
            return
        group = "+".join(k for k in ENCODED_MEDIA if batch.get(k) is not None)
        row = {"step": trainer.global_step, "group": group, "tasks": list(batch["task"])}
        with open(Path(folder) / f"rank{trainer.global_rank}.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
