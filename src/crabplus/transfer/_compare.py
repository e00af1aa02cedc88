"""Transfer of a multitask run against its single-task baselines: relative change, Δm, positive share.

Notation (as in Crab+'s transfer analysis; Δm after Maninis et al., CVPR 2019,
"Attentive Single-Tasking of Multiple Tasks", and the LibMTL / Vandenhende et al. 2021 average):

    M_{t,k}^multi, M_{t,k}^single   metric k of task t, multitask run and single-task baseline
    σ_{t,k} = +1 if higher is better else -1
    Δ_{t,k} = σ_{t,k} · (M_{t,k}^multi − M_{t,k}^single) / |M_{t,k}^single|      relative change, > 0 = better
    Δ_t     = (1 / K_t) Σ_k Δ_{t,k}                                                task change
    Δm      = (1 / T) Σ_t Δ_t                                                      fraction, not ×100
    positive_share = #{t : Δ_t > 0} / T                                            the paper's "88 % of tasks"
    worst_drop     = min_t Δ_t                                                     (positive if nothing dropped)

Tasks are averaged over their metrics first so a task with five metrics weighs as much as a task with one.
Decisions: a task without any baseline value is listed in ``missing`` and left out of T (never silently
dropped); a baseline of exactly 0 makes Δ undefined unless the multitask value is 0 too (Δ = 0) — such
metrics are listed in ``undefined`` and left out of the averages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from crabplus.transfer._bootstrap import TransferIntervals

__all__ = [
    "MeanStd",
    "TransferReport",
    "TransferSummary",
    "Values",
    "compare",
    "compare_seeds",
    "direction",
    "mean_values",
    "summarize",
]

Values = Mapping[str, Mapping[str, float]]
"""task → metric → value."""


class MeanStd(NamedTuple):
    """Mean and sample standard deviation (ddof = 1; 0 for a single seed) over ``n`` seeds."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:+.2%} ± {self.std:.2%}" if self.n > 1 else f"{self.mean:+.2%}"


@dataclass(frozen=True)
class TransferReport:
    """One multitask run against its baselines (see the module docstring for the formulas)."""

    relative_change: dict[str, dict[str, float]]
    task_change: dict[str, float]
    delta_m: float
    positive_share: float
    worst_drop: float
    worst_task: str | None
    missing: list[str]
    missing_metrics: list[str] = field(default_factory=list)
    undefined: list[str] = field(default_factory=list)
    multitask: dict[str, dict[str, float]] = field(default_factory=dict)
    single_task: dict[str, dict[str, float]] = field(default_factory=dict)
    higher_is_better: dict[str, dict[str, bool]] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        """Tasks that entered T (had a baseline and at least one defined relative change)."""
        return list(self.task_change)


def direction(higher_is_better: Mapping[str, bool], task: str, metric: str) -> bool:
    """``higher_is_better`` keyed by ``"task/metric"`` (checked first) or by metric name."""
    for key in (f"{task}/{metric}", metric):
        if key in higher_is_better:
            return bool(higher_is_better[key])
    raise KeyError(
        f"no direction for metric '{task}/{metric}': pass higher_is_better['{metric}'] "
        f"or higher_is_better['{task}/{metric}']"
    )


def _relative(multi: float, single: float, higher: bool) -> float | None:
    """Δ = σ·(multi − single)/|single|; ``None`` where undefined (zero or non-finite baseline)."""
    if not (math.isfinite(multi) and math.isfinite(single)):
        return None
    if single == 0.0:
        return 0.0 if multi == 0.0 else None
    sign = 1.0 if higher else -1.0
    return sign * (multi - single) / abs(single)


def compare(multitask: Values, single_task: Values, higher_is_better: Mapping[str, bool]) -> TransferReport:
    """Relative change of every multitask metric against the single-task baseline of its task.

    Args:
        multitask: task → metric → value of the multitask run.
        single_task: task → metric → value of the single-task baselines (same recipe, one task each).
        higher_is_better: metric name or ``"task/metric"`` → direction.
    """
    rel: dict[str, dict[str, float]] = {}
    missing, missing_metrics, undefined = [], [], []
    directions: dict[str, dict[str, bool]] = {}
    for task, metrics in multitask.items():
        base = single_task.get(task) or {}
        if not base:
            missing.append(task)
            continue
        for metric, value in metrics.items():
            if metric not in base:
                missing_metrics.append(f"{task}/{metric}")
                continue
            higher = direction(higher_is_better, task, metric)
            directions.setdefault(task, {})[metric] = higher
            change = _relative(float(value), float(base[metric]), higher)
            if change is None:
                undefined.append(f"{task}/{metric}")
            else:
                rel.setdefault(task, {})[metric] = change
    task_change = {task: sum(m.values()) / len(m) for task, m in rel.items()}
    return TransferReport(
        relative_change=rel,
        task_change=task_change,
        delta_m=_mean(task_change.values()),
        positive_share=_mean(1.0 if d > 0 else 0.0 for d in task_change.values()),
        worst_drop=min(task_change.values(), default=math.nan),
        worst_task=min(task_change, key=task_change.__getitem__) if task_change else None,
        missing=missing,
        missing_metrics=missing_metrics,
        undefined=undefined,
        multitask={t: {k: float(v) for k, v in m.items()} for t, m in multitask.items()},
        single_task={
            t: {k: float(v) for k, v in single_task[t].items()} for t in multitask if t in single_task
        },
        higher_is_better=directions,
    )


def _mean(values: object) -> float:
    xs = list(values)  # type: ignore[call-overload]
    return sum(xs) / len(xs) if xs else math.nan


def _mean_std(xs: Sequence[float]) -> MeanStd:
    n = len(xs)
    if n == 0:
        return MeanStd(math.nan, math.nan, 0)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return MeanStd(mean, std, n)


def mean_values(runs: Sequence[Values]) -> dict[str, dict[str, float]]:
    """Element-wise mean of several runs' task → metric → value (a metric averages over runs that have it)."""
    sums: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for task, metrics in run.items():
            for metric, value in metrics.items():
                sums.setdefault(task, {}).setdefault(metric, []).append(float(value))
    return {t: {k: sum(v) / len(v) for k, v in m.items()} for t, m in sums.items()}


@dataclass(frozen=True)
class TransferSummary:
    """Mean ± std over seeds of one recipe's reports (each seed compared with the same baselines)."""

    reports: list[TransferReport]
    relative_change: dict[str, dict[str, MeanStd]]
    task_change: dict[str, MeanStd]
    delta_m: MeanStd
    positive_share: MeanStd
    worst_drop: MeanStd
    missing: list[str]
    multitask: dict[str, dict[str, float]]
    single_task: dict[str, dict[str, float]]
    intervals: TransferIntervals | None = None  # paired bootstrap over stored items (``_bootstrap.py``)
    split: str = "test"  # the evaluation split the metrics and items come from (reports name it)


def summarize(reports: Sequence[TransferReport]) -> TransferSummary:
    """Aggregate per-seed reports; per-task numbers average over the seeds where the task was compared."""
    if not reports:
        raise ValueError("summarize() needs at least one TransferReport")
    rel: dict[str, dict[str, list[float]]] = {}
    task: dict[str, list[float]] = {}
    for report in reports:
        for t, metrics in report.relative_change.items():
            for k, v in metrics.items():
                rel.setdefault(t, {}).setdefault(k, []).append(v)
        for t, v in report.task_change.items():
            task.setdefault(t, []).append(v)
    finite = [r for r in reports if r.task_change]
    return TransferSummary(
        reports=list(reports),
        relative_change={t: {k: _mean_std(v) for k, v in m.items()} for t, m in rel.items()},
        task_change={t: _mean_std(v) for t, v in task.items()},
        delta_m=_mean_std([r.delta_m for r in finite]),
        positive_share=_mean_std([r.positive_share for r in finite]),
        worst_drop=_mean_std([r.worst_drop for r in finite]),
        missing=sorted({t for r in reports for t in r.missing}),
        multitask=mean_values([r.multitask for r in reports]),
        single_task=mean_values([r.single_task for r in reports]),
    )


def compare_seeds(
    multitask: Sequence[Values],
    single_task: Sequence[Values] | Values,
    higher_is_better: Mapping[str, bool],
) -> TransferSummary:
    """Compare every multitask seed with the seed-mean baseline, then take mean ± std over seeds."""
    baselines = [single_task] if isinstance(single_task, Mapping) else list(single_task)
    base = mean_values(baselines)
    return summarize([compare(run, base, higher_is_better) for run in multitask])
