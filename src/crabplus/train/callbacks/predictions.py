"""``PredictionWriter``: every generated answer as one JSONL row, for ``predict`` and ``test --save_predictions``.

Each process appends the rows of each batch to its own ``predictions.rank<r>.jsonl`` (flushed per batch, so
a killed run keeps what it finished); at the end rank 0 merges the rank files, drops duplicates and writes
``predictions.jsonl`` sorted by task and key, atomically, then removes the rank files. Rows:
:mod:`crabplus.train.prediction_rows`.

Resuming: pointed at a folder that already holds rows (``out_dir``), the writer keeps them, tells the module
which ``(task, key)`` items are done (``AVLLMModule.skip_prediction_keys``: a predict batch that is all done is
not generated again) and never writes an item twice. A torn last line of a killed run is ignored.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

__all__ = ["PredictionWriter", "read_prediction_rows", "MERGED_NAME"]

MERGED_NAME = "predictions.jsonl"


def read_prediction_rows(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of ``predictions.jsonl`` and any rank files in ``folder`` (unreadable lines skipped, no dedup)."""
    folder = Path(folder)
    rows: list[dict[str, Any]] = []
    for path in [folder / MERGED_NAME, *sorted(folder.glob("predictions.rank*.jsonl"))]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # the torn last line of a killed run
            if isinstance(row, dict) and "task" in row and "key" in row:
                rows.append(row)
    return rows


class PredictionWriter(BasePredictionWriter):
    """Write prediction rows of ``predict`` (and of ``test``/``validate`` when the module returns them).

    Args:
        out_dir: folder of the JSONL files; default the command's log folder (``trainer.log_dir``, the same on
            every rank), e.g. ``runs/<run>/predict-<time>/``. Give a previous folder to resume it.
        stages: which loops write (``predict``, ``test``, ``validate``); validation inside ``fit`` never does.
    """

    def __init__(self, out_dir: str | None = None, stages: Iterable[str] = ("predict", "test")) -> None:
        super().__init__(write_interval="batch")
        self.out_dir = out_dir
        self.stages = tuple(stages)
        self.folder: Path | None = None
        self.done: set[tuple[str, str]] = set()
        self.written = 0

    # ----- setup ---------------------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage not in self.stages:
            return
        # rows carry their (task, key); Lightning's sampler indices do not exist for iterable datasets
        warnings.filterwarnings("ignore", message="Couldn't infer the batch indices")
        folder = Path(self.out_dir) if self.out_dir else Path(trainer.log_dir or trainer.default_root_dir)
        self.folder = folder
        self.done = {(r["task"], r["key"]) for r in read_prediction_rows(folder)}
        if hasattr(pl_module, "skip_prediction_keys") and stage == "predict":
            pl_module.skip_prediction_keys = set(self.done)
        if hasattr(pl_module, "keep_prediction_rows") and stage in ("test", "validate"):
            pl_module.keep_prediction_rows = True
        self._path = folder / f"predictions.rank{trainer.global_rank}.jsonl"

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if hasattr(pl_module, "keep_prediction_rows"):
            pl_module.keep_prediction_rows = False
        if hasattr(pl_module, "skip_prediction_keys"):
            pl_module.skip_prediction_keys = set()

    # ----- writing -------------------------------------------------------------------------------------
    def _append(self, rows: list[dict[str, Any]] | None) -> None:
        fresh = [r for r in rows or [] if (r["task"], r["key"]) not in self.done]
        if not fresh or self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        torn = (
            self._path.is_file() and self._path.stat().st_size and not self._path.read_bytes().endswith(b"\n")
        )
        with self._path.open("a") as f:
            if torn:
                f.write("\n")
            for row in fresh:
                f.write(json.dumps(row, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done.update((r["task"], r["key"]) for r in fresh)
        self.written += len(fresh)

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx
    ):
        if "predict" in self.stages:
            self._append(prediction)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if "test" in self.stages:
            self._append(outputs)

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if "validate" in self.stages and not trainer.training and trainer.state.fn == "validate":
            self._append(outputs)

    # ----- merging -------------------------------------------------------------------------------------
    def _merge(self, trainer: L.Trainer) -> None:
        if self.folder is None:
            return
        trainer.strategy.barrier()  # every rank's file is complete
        if trainer.is_global_zero:
            merge_prediction_files(self.folder)
        trainer.strategy.barrier()

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "predict" in self.stages:
            self._merge(trainer)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "test" in self.stages:
            self._merge(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "validate" in self.stages and trainer.state.fn == "validate":
            self._merge(trainer)


def merge_prediction_files(folder: str | os.PathLike) -> Path:
    """Merge ``predictions.jsonl`` and the rank files of ``folder`` into ``predictions.jsonl`` (one row per
    ``(task, key)``, sorted), written atomically; the rank files are removed once it is in place."""
    folder = Path(folder)
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for row in read_prediction_rows(folder):
        unique.setdefault((row["task"], row["key"]), row)
    merged = folder / MERGED_NAME
    tmp = folder / (MERGED_NAME + ".tmp")
    with tmp.open("w") as f:
        for key in sorted(unique):
            f.write(json.dumps(unique[key], sort_keys=True) + "\n")
    tmp.replace(merged)
    for path in folder.glob("predictions.rank*.jsonl"):
        path.unlink()
    return merged
