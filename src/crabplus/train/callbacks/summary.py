"""``EvalSummaryCallback``: one task × metric table per evaluation, printed where the user looks.

Lightning's own results table has one column per dataloader and, because crabplus logs its task metrics once
per epoch (not per dataloader), repeats every task's metrics in every column; rich truncates long metric
names. This callback prints instead one plain-text table per run: after ``fit`` the last validation, after
``validate``/``test`` their results, rows = tasks, columns = metrics, full names, blanks where a task lacks a
metric. ``crabplus`` turns Lightning's table off (``verbose: false``) and adds this callback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

__all__ = ["EvalSummaryCallback", "format_metric_table", "metrics_by_task"]


def metrics_by_task(metrics: Mapping[str, Any], split: str) -> dict[str, dict[str, float]]:
    """``{"<split>/<task>/<metric>": v}`` → ``{task: {metric: v}}``; other keys ignored."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/", 2)  # a metric may hold a slash itself: accuracy/<question type>
        if len(parts) != 3 or parts[0] != split:
            continue
        out.setdefault(parts[1], {})[parts[2]] = float(
            value.item() if isinstance(value, torch.Tensor) else value
        )
    return out


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return "nan" if not math.isfinite(value) else f"{value:.4f}"


def format_metric_table(values: Mapping[str, Mapping[str, float]], title: str) -> str:
    """Aligned plain-text table: one row per task (sorted), one column per metric (``loss`` last)."""
    if not values:
        return f"{title}: no task metrics were logged"
    metrics = sorted({m for per_task in values.values() for m in per_task}, key=lambda m: (m == "loss", m))
    header = ["task", *metrics]
    rows = [[task, *(_cell(values[task].get(m)) for m in metrics)] for task in sorted(values)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    rule = "-" * len(line(header))
    return "\n".join([title, rule, line(header), rule, *(line(r) for r in rows), rule])


class EvalSummaryCallback(L.Callback):
    """Print the validation summary after ``fit`` and one table after ``validate`` / ``test`` (rank 0)."""

    def __init__(self) -> None:
        self.last_validation: dict[str, dict[str, float]] = {}
        self.last_step = 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        found = metrics_by_task(trainer.callback_metrics, "val")
        if found:
            self.last_validation, self.last_step = found, trainer.global_step
        if trainer.state.fn == "validate":
            self._print(trainer, format_metric_table(found, "validation results"))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.last_validation:
            title = f"validation at step {self.last_step} (last of this fit)"
            self._print(trainer, format_metric_table(self.last_validation, title))
        else:
            self._print(
                trainer, "no validation ran in this fit (see trainer.val_check_interval / limit_val_batches)"
            )

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._print(
            trainer, format_metric_table(metrics_by_task(trainer.callback_metrics, "test"), "test results")
        )

    @staticmethod
    def _print(trainer: L.Trainer, text: str) -> None:
        if trainer.is_global_zero:
            print("\n" + text, flush=True)
