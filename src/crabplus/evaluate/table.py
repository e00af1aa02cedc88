"""The eval-all table: task × metric × run, the trivial baseline beside, as rows, Markdown and CSV.

Kept apart from :mod:`crabplus.evaluate.eval_all` (which runs the evaluations) so that the rendering can be
reused on results read back from the store and tested without a model. ``None`` marks a task/metric a run
did not measure (``–`` in Markdown, an empty CSV cell).
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RunResult",
    "beats_trivial",
    "markdown_table",
    "merged_trivial",
    "primary_gains",
    "table_rows",
    "write_csv",
]

FLOAT_TOL = 1e-6  # metrics pass through float32 logging


@dataclass
class RunResult:
    """What one evaluation gave: task → metric → value as read back from the store, and the baselines."""

    name: str
    run_id: str
    step: int | None
    metrics: dict[str, dict[str, float]]
    directions: dict[str, bool]
    trivial: dict[str, dict[str, float]]
    # task → metric → 95 % bootstrap interval over the evaluated items (empty: items not stored)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)


def _direction(task: str, metric: str, results: Sequence[RunResult]) -> bool | None:
    for result in results:
        if f"{task}/{metric}" in result.directions:
            return result.directions[f"{task}/{metric}"]
    from crabplus import tasks

    try:
        return tasks.get(task).is_higher_better(metric)
    except KeyError:
        return None


def merged_trivial(results: Sequence[RunResult]) -> dict[str, dict[str, float]]:
    """One baseline per task: the first run's; a different one from another run's data is warned about."""
    out: dict[str, dict[str, float]] = {}
    for result in results:
        for task, values in result.trivial.items():
            if task not in out:
                out[task] = values
            elif any(
                not math.isclose(out[task].get(k, math.nan), v, abs_tol=1e-9) for k, v in values.items()
            ):
                warnings.warn(
                    f"task {task!r}: run {result.name!r} has another trivial baseline (other data?); "
                    "the table shows the first run's",
                    stacklevel=2,
                )
    return out


def table_rows(results: Sequence[RunResult]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows ``[task, metric, higher_is_better, value per run..., trivial]`` (None: not measured)."""
    trivial = merged_trivial(results)
    keys: dict[tuple[str, str], None] = {}
    for source in [*(r.metrics for r in results), trivial]:
        for task, values in source.items():
            for metric in values:
                keys.setdefault((task, metric))
    header = ["task", "metric", "higher_is_better", *(r.name for r in results), "trivial"]
    rows = [
        [
            task,
            metric,
            _direction(task, metric, results),
            *(r.metrics.get(task, {}).get(metric) for r in results),
            trivial.get(task, {}).get(metric),
        ]
        for task, metric in keys
    ]
    return header, rows


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "↑" if value else "↓"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def primary_gains(results: Sequence[RunResult]) -> dict[str, dict[str, float]]:
    """run → task → gain of the primary metric over the trivial baseline, signed so that > 0 is better."""
    from crabplus import tasks

    trivial, out = merged_trivial(results), {}
    for result in results:
        gains = out.setdefault(result.name, {})
        for task, values in result.metrics.items():
            metric = tasks.get(task).primary_metric
            if metric in values and metric in trivial.get(task, {}):
                sign = 1.0 if _direction(task, metric, [result]) else -1.0
                gains[task] = sign * (values[metric] - trivial[task][metric])
    return out


def beats_trivial(results: Sequence[RunResult], margin: float = 0.0) -> list[str]:
    """Per run: the tasks whose primary metric beats the trivial baseline by more than ``margin``.

    Metric values are logged as float32, so a gain within ``FLOAT_TOL`` of the margin does not count (a
    model that always answers the majority class ties the baseline; it must not be reported as beating it).
    """
    lines = []
    for name, gains in primary_gains(results).items():
        won = [t for t, g in gains.items() if g > margin + FLOAT_TOL]
        detail = ", ".join(f"{t} {g:+.4f}" for t, g in gains.items())
        lines.append(
            f"- {name}: primary metric above the trivial baseline by more than {margin:g} on "
            f"{len(won)}/{len(gains)} tasks ({detail})"
        )
    return lines


def markdown_table(results: Sequence[RunResult], margin: float = 0.0) -> str:
    """The Markdown report: the table, then the primary-metric comparison with the trivial baseline."""
    header, rows = table_rows(results)
    steps = {r.name: r.step for r in results}
    names = [f"{h} (step {steps[h]})" if steps.get(h) is not None else h for h in header]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in rows:
        cells = [_cell(v) for v in row]
        for i, result in enumerate(results):
            bounds = result.intervals.get(row[0], {}).get(row[1])
            if bounds is not None and row[3 + i] is not None and all(map(math.isfinite, bounds)):
                cells[3 + i] += f" [{bounds[0]:.3f}, {bounds[1]:.3f}]"
        lines.append("| " + " | ".join(cells) + " |")
    summary = [] if not any(r.trivial for r in results) else ["", *beats_trivial(results, margin)]
    if any(r.intervals for r in results):
        summary += [
            "",
            "Brackets: 95 % bootstrap interval over the evaluated items (the metric recomputed on "
            "resampled items).",
        ]
    return "\n".join(["# eval-all", "", *lines, *summary, ""])


def write_csv(results: Sequence[RunResult], path: Path) -> None:
    """The table as CSV: empty cells where a run did not measure a task/metric."""
    header, rows = table_rows(results)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
