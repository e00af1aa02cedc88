"""Transfer plots: sorted per-task bars, side-by-side variants, and task×task heatmaps.

Bars with a bootstrap interval carry it as an error bar; an inconclusive task (its interval holds 0) is
grey, a positive one green, a negative one red. Without intervals: ± the std over seeds, coloured by sign.

Uses matplotlib's object API (``Figure`` + Agg canvas) and never pyplot, so importing it does not switch the
backend of a notebook or a training process, and it works headless.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crabplus.transfer._bootstrap import TransferIntervals
from crabplus.transfer._compare import MeanStd, TransferSummary

__all__ = ["plot_comparison", "plot_matrix", "plot_transfer_bars"]

_POS, _NEG, _GREY = "#2a9d4b", "#d1495b", "#b0b0b0"
_VERDICT_COLOUR = {"positive": _POS, "negative": _NEG, "inconclusive": _GREY}


def _bar(task: str, mean: float, std: float, intervals: TransferIntervals | None) -> tuple[str, list[float]]:
    """Colour and [below, above] error extents (in %) of one task's bar."""
    found = intervals.tasks.get(task) if intervals is not None else None
    if found is None:
        return (_POS if mean > 0 else _NEG), [100 * std, 100 * std]
    low, high = found.change.low, found.change.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return _GREY, [0.0, 0.0]
    return _VERDICT_COLOUR[found.verdict], [max(0.0, 100 * (mean - low)), max(0.0, 100 * (high - mean))]


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")


def _split(value: MeanStd | float) -> tuple[float, float]:
    return (value.mean, value.std) if isinstance(value, MeanStd) else (float(value), 0.0)


def plot_transfer_bars(
    task_change: Mapping[str, MeanStd | float],
    path: str | os.PathLike[str],
    title: str = "Transfer per task",
    intervals: TransferIntervals | None = None,
) -> Figure:
    """Horizontal bars of Δ_t in %, best task on top, coloured by verdict (or sign) with error bars."""
    items = sorted(((t, *_split(v)) for t, v in task_change.items()), key=lambda x: (x[1], x[0]))
    fig = Figure(figsize=(6.0, 0.9 + 0.35 * max(1, len(items))))
    ax = fig.add_subplot()
    names = [t for t, _, _ in items]
    means = [100 * m for _, m, _ in items]
    bars = [_bar(t, m, s, intervals) for t, m, s in items]
    errors = [[b[1][0] for b in bars], [b[1][1] for b in bars]]
    ax.barh(
        names, means, xerr=errors if any(map(any, errors)) else None, color=[c for c, _ in bars], capsize=3
    )
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("relative change vs single-task (%)")
    ax.set_title(title)
    _save(fig, path)
    return fig


def plot_comparison(
    summaries: Mapping[str, TransferSummary], path: str | os.PathLike[str], title: str = "Transfer by variant"
) -> Figure:
    """Grouped horizontal bars: one group per task (sorted by the first variant), one bar per variant."""
    labels = list(summaries)
    tasks = sorted(
        {t for s in summaries.values() for t in s.task_change},
        key=lambda t: (summaries[labels[0]].task_change.get(t, MeanStd(math.inf, 0, 0)).mean, t),
    )
    fig = Figure(figsize=(6.5, 1.0 + 0.3 * max(1, len(tasks)) * max(1, len(labels))))
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(labels))
    hatches = ["", "//", "..", "xx", "\\\\", "oo"]
    for i, label in enumerate(labels):
        change, intervals = summaries[label].task_change, summaries[label].intervals
        ys = [j + i * height for j in range(len(tasks))]
        vals = [100 * change[t].mean if t in change else 0.0 for t in tasks]
        bars = [
            _bar(t, change[t].mean, change[t].std, intervals) if t in change else (_GREY, [0.0, 0.0])
            for t in tasks
        ]
        errors = [[b[1][0] for b in bars], [b[1][1] for b in bars]]
        ax.barh(
            ys,
            vals,
            height=height,
            xerr=errors if any(map(any, errors)) else None,
            capsize=2,
            color=[c for c, _ in bars],
            edgecolor="black",
            linewidth=0.5,
            hatch=hatches[i % len(hatches)],
            label=f"{label} (Δm {summaries[label].delta_m.mean:+.1%})",
        )
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(tasks))], tasks)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("relative change vs single-task (%)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    _save(fig, path)
    return fig


def plot_matrix(
    labels: Sequence[str],
    matrix: Sequence[Sequence[float]],
    path: str | os.PathLike[str],
    title: str,
    colorbar: str,
    percent: bool = False,
    limit: float | None = None,
) -> Figure:
    """Square heatmap, diverging around 0 (blue > 0, red < 0), cells annotated; NaN cells stay blank."""
    n = len(labels)
    finite = [abs(v) for row in matrix for v in row if math.isfinite(v)]
    vmax = limit if limit is not None else (max(finite) if finite and max(finite) > 0 else 1.0)
    fig = Figure(figsize=(1.4 + 0.7 * n, 1.0 + 0.6 * n))
    ax = fig.add_subplot()
    image = ax.imshow(
        [[v if math.isfinite(v) else math.nan for v in row] for row in matrix],
        cmap="RdBu",
        vmin=-vmax,
        vmax=vmax,
    )
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            if math.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{100 * v:+.0f}%" if percent else f"{v:+.2f}",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                )
    fig.colorbar(image, ax=ax, label=colorbar)
    ax.set_title(title)
    _save(fig, path)
    return fig
