"""Paired bootstrap intervals for transfer: per task Δ_t, Δm, and a verdict per task.

The multitask run and its single-task baseline score the same test clips, so the uncertainty of Δ_t comes
from which clips the test set happens to hold. One replicate b draws n of the n items both sides scored, with
replacement (multinomial counts c_b), and recomputes every metric of both sides on those items — the metric
itself, not a mean of per-item scores, so corpus metrics (weighted F1, CIDEr, J&F's F) are handled:

    M_b = metric(state_b),  state_b = Σ_i c_{b,i} · state_i          (sum states: counts times item states)
                            state_b = concat_i (state_i repeated c_{b,i} times)   (list states: resampled items)

where state_i is the metric state after updating a fresh metric with item i alone. Δ_{t,b} follows the
point formulas (``_compare.py``); the 95 % interval is the 2.5 / 97.5 % percentiles of Δ_{t,b} over B
replicates, and Δm_b = mean_t Δ_{t,b} (each task resampled independently) gives Δm's interval.

Several seeds: each replicate also resamples the seeds of each side with replacement (a two-level bootstrap:
seeds, then items), compares every drawn multitask seed with the mean of the drawn baseline seeds and
averages, so the interval covers seed-to-seed variance as well as the test set's sampling. With one seed per
side it is the plain paired bootstrap.

Verdict of a task: **positive** when the interval's lower end is above 0, **negative** when its upper end is
below 0, **inconclusive** otherwise. Replicates draw from generators seeded by the task name: reports are
reproducible, and every variant compared in one report sees the same resamples.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_REPLICATES",
    "Interval",
    "ItemSide",
    "TaskInterval",
    "TransferIntervals",
    "bootstrap_task",
    "combine_tasks",
    "metric_interval_table",
    "resampled_metrics",
    "verdict",
]

DEFAULT_REPLICATES = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """Point estimate and the percentile interval of its bootstrap replicates."""

    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.point:+.1%} [{self.low:+.1%}, {self.high:+.1%}]"


def verdict(interval: Interval) -> str:
    """positive / negative / inconclusive (module docstring)."""
    if interval.low > 0:
        return "positive"
    if interval.high < 0:
        return "negative"
    return "inconclusive"


@dataclass(frozen=True)
class TaskInterval:
    """Δ_t of one task with its interval, verdict and what it rests on."""

    change: Interval
    verdict: str
    n_items: int
    n_seeds: tuple[int, int]  # (multitask, single-task)


@dataclass(frozen=True)
class TransferIntervals:
    """Intervals of one variant: per task, Δm, and the positive share raw and counting significant gains."""

    tasks: dict[str, TaskInterval]
    delta_m: Interval
    positive_share: float
    significant_share: float
    replicates: int
    unpaired: dict[str, str] = field(default_factory=dict)  # task → why no interval


@dataclass(frozen=True)
class ItemSide:
    """The items one run scored on one task: keys and (prediction, target) pairs in key order."""

    keys: tuple[str, ...]
    predictions: tuple[Any, ...]
    targets: tuple[Any, ...]
    source: str = ""  # the run id (caches a baseline's replicates across variants)

    def subset(self, keys: Sequence[str]) -> ItemSide:
        where = {k: i for i, k in enumerate(self.keys)}
        order = [where[k] for k in keys]
        return ItemSide(
            tuple(keys),
            tuple(self.predictions[i] for i in order),
            tuple(self.targets[i] for i in order),
            self.source,
        )


def _raw_compute(metric: Any) -> dict[str, float]:
    """The metric's own ``compute`` on states set by hand (torchmetrics' wrapper caches and warns)."""
    return {k: float(v) for k, v in type(metric).compute(metric).items()}


def resampled_metrics(
    make_metric: Callable[[], Any], side: ItemSide, counts: np.ndarray
) -> list[dict[str, float]]:
    """The metric of ``side`` recomputed for every row of ``counts`` (B × n multinomial counts)."""
    metric = make_metric()
    fast = getattr(metric, "resampled", None)
    if fast is not None:  # a metric that decomposes over items computes every resample at once
        return fast(list(side.predictions), list(side.targets), counts)
    per_item = []
    names = list(metric._defaults)
    for prediction, target in zip(side.predictions, side.targets):
        metric.reset()
        metric.update([prediction], [target])
        per_item.append({name: copy.copy(getattr(metric, name)) for name in names})
    summed = {
        n: np.stack([item[n].detach().cpu().double().numpy() for item in per_item])
        for n in names
        if not isinstance(metric._defaults[n], list)
    }
    out = []
    for row in counts:
        for name in names:
            default = metric._defaults[name]
            if isinstance(default, list):
                setattr(
                    metric,
                    name,
                    [t for i, c in enumerate(row) for _ in range(int(c)) for t in per_item[i][name]],
                )
            else:
                value = np.tensordot(row.astype(np.float64), summed[name], axes=1)
                setattr(metric, name, _like(default, value))
        out.append(_raw_compute(metric))
    return out


def _like(default: Any, value: np.ndarray) -> Any:
    import torch

    return torch.as_tensor(value, dtype=torch.float64).to(default.dtype)


def _relative(multi: float, single: float, higher: bool) -> float:
    if not (math.isfinite(multi) and math.isfinite(single)):
        return math.nan
    if single == 0.0:
        return 0.0 if multi == 0.0 else math.nan
    return (1.0 if higher else -1.0) * (multi - single) / abs(single)


def _task_change(
    multi: Mapping[str, float],
    single: Mapping[str, float],
    metrics: Sequence[str],
    higher: Mapping[str, bool],
) -> float:
    changes = [_relative(multi[m], single[m], higher[m]) for m in metrics]
    changes = [c for c in changes if math.isfinite(c)]
    return sum(changes) / len(changes) if changes else math.nan


def _generator(task: str, salt: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(task.encode()), salt])


def bootstrap_task(
    task: str,
    multitask: Sequence[ItemSide],
    single_task: Sequence[ItemSide],
    make_metric: Callable[[], Any],
    metrics: Sequence[str],
    higher_is_better: Mapping[str, bool],
    replicates: int = DEFAULT_REPLICATES,
    cache: dict[Any, Any] | None = None,
) -> tuple[TaskInterval, np.ndarray] | None:
    """Δ_t's interval from the items of every multitask and baseline seed (None: no item both sides scored).

    ``metrics`` are the task's compared metrics (those with a baseline); ``cache`` (any dict kept across calls)
    reuses a side's resampled metrics when several variants share one baseline.
    """
    shared = set(multitask[0].keys)
    for side in [*multitask, *single_task]:
        shared &= set(side.keys)
    keys = sorted(shared)
    if not keys or not metrics:
        return None
    counts = _generator(task, 0).multinomial(len(keys), np.full(len(keys), 1.0 / len(keys)), size=replicates)

    def values(side: ItemSide) -> tuple[dict[str, float], np.ndarray]:
        key = (task, side.source or id(side), tuple(keys), tuple(metrics), replicates)
        memo = cache if cache is not None else {}
        if key not in memo:
            part = side.subset(keys)
            full = resampled_metrics(make_metric, part, np.ones((1, len(keys)), dtype=np.int64))[0]
            rows = resampled_metrics(make_metric, part, counts)
            memo[key] = (full, np.array([[r.get(m, math.nan) for m in metrics] for r in rows]))
        return memo[key]

    multi = [values(s) for s in multitask]
    single = [values(s) for s in single_task]
    single_mean = {m: float(np.mean([s[0][m] for s in single])) for m in metrics}
    point = float(
        np.nanmean([_task_change(full, single_mean, metrics, higher_is_better) for full, _ in multi])
    )
    seeds = _generator(task, 1)
    directions = np.array([1.0 if higher_is_better[m] else -1.0 for m in metrics])
    draws = np.empty(replicates)
    for b in range(replicates):
        ms = seeds.integers(0, len(multi), len(multi)) if len(multi) > 1 else [0]
        ss = seeds.integers(0, len(single), len(single)) if len(single) > 1 else [0]
        base = np.mean([single[s][1][b] for s in ss], axis=0)
        changes = []
        for s in ms:
            value = multi[s][1][b]
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(
                    base == 0.0,
                    np.where(value == 0.0, 0.0, np.nan),
                    directions * (value - base) / np.abs(base),
                )
            finite = rel[np.isfinite(rel)]
            changes.append(finite.mean() if finite.size else np.nan)
        draws[b] = np.nanmean(changes) if np.isfinite(changes).any() else np.nan
    interval = _percentiles(point, draws)
    return TaskInterval(interval, verdict(interval), len(keys), (len(multitask), len(single_task))), draws


def _percentiles(point: float, draws: np.ndarray) -> Interval:
    finite = draws[np.isfinite(draws)]
    if not finite.size:
        return Interval(point, math.nan, math.nan)
    tail = (1.0 - LEVEL) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(point, float(low), float(high))


def metric_interval_table(
    make_metric: Callable[[], Any], side: ItemSide, task: str, replicates: int = DEFAULT_REPLICATES
) -> dict[str, Interval]:
    """metric → its value on ``side``'s items with the 95 % percentile interval over item resamples."""
    n = len(side.keys)
    if not n:
        return {}
    counts = _generator(task, 0).multinomial(n, np.full(n, 1.0 / n), size=replicates)
    full = resampled_metrics(make_metric, side, np.ones((1, n), dtype=np.int64))[0]
    rows = resampled_metrics(make_metric, side, counts)
    return {m: _percentiles(v, np.array([r.get(m, math.nan) for r in rows])) for m, v in full.items()}


def combine_tasks(
    tasks: Mapping[str, tuple[TaskInterval, np.ndarray]],
    replicates: int,
    unpaired: Mapping[str, str] | None = None,
) -> TransferIntervals:
    """Δm's interval (replicate-wise mean over tasks) and the raw and significant positive shares."""
    intervals = {t: ti for t, (ti, _) in tasks.items()}
    if tasks:
        stacked = np.stack([draws for _, draws in tasks.values()])  # (T, B)
        with np.errstate(invalid="ignore"):
            delta_m_draws = np.nanmean(stacked, axis=0)
        point = float(np.mean([ti.change.point for ti in intervals.values()]))
        delta_m = _percentiles(point, delta_m_draws)
    else:
        delta_m = Interval(math.nan, math.nan, math.nan)
    n = len(intervals)
    raw = sum(ti.change.point > 0 for ti in intervals.values()) / n if n else math.nan
    significant = sum(ti.verdict == "positive" for ti in intervals.values()) / n if n else math.nan
    return TransferIntervals(intervals, delta_m, raw, significant, replicates, dict(unpaired or {}))
