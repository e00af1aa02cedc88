"""Transfer plots: sorted per-task bars, side-by-side variants, and task×task heatmaps.

Uses matplotlib's object API (``Figure`` + Agg canvas) and never pyplot, so importing it does not switch the
backend of a notebook or a training process, and it works headless.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crabplus.transfer._compare import MeanStd, TransferSummary

__all__ = ["plot_comparison", "plot_matrix", "plot_transfer_bars"]

_POS, _NEG = "#2a9d4b", "#d1495b"


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")


def _split(value: MeanStd | float) -> tuple[float, float]:
    return (value.mean, value.std) if isinstance(value, MeanStd) else (float(value), 0.0)


def plot_transfer_bars(
    task_change: Mapping[str, MeanStd | float], path: str | os.PathLike[str], title: str = "Transfer per task"
) -> Figure:
    """Horizontal bars of Δ_t in %, best task on top, green for positive and red for negative transfer."""
    items = sorted(((t, *_split(v)) for t, v in task_change.items()), key=lambda x: x[1])
    fig = Figure(figsize=(6.0, 0.9 + 0.35 * max(1, len(items))))
    ax = fig.add_subplot()
    names = [t for t, _, _ in items]
    means = [100 * m for _, m, _ in items]
    stds = [100 * s for _, _, s in items]
    ax.barh(names, means, xerr=stds if any(stds) else None,
            color=[_POS if m > 0 else _NEG for m in means], capsize=3)
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
    tasks = sorted({t for s in summaries.values() for t in s.task_change},
                   key=lambda t: summaries[labels[0]].task_change.get(t, MeanStd(math.inf, 0, 0)).mean)
    fig = Figure(figsize=(6.5, 1.0 + 0.3 * max(1, len(tasks)) * max(1, len(labels))))
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        change = summaries[label].task_change
        ys = [j + i * height for j in range(len(tasks))]
        vals = [100 * change[t].mean if t in change else 0.0 for t in tasks]
        errs = [100 * change[t].std if t in change else 0.0 for t in tasks]
        ax.barh(ys, vals, height=height, xerr=errs if any(errs) else None, capsize=2,
                label=f"{label} (Δm {summaries[label].delta_m.mean:+.1%})")
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
    image = ax.imshow([[v if math.isfinite(v) else math.nan for v in row] for row in matrix],
                      cmap="RdBu", vmin=-vmax, vmax=vmax)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            if math.isfinite(v):
                ax.text(j, i, f"{100 * v:+.0f}%" if percent else f"{v:+.2f}", ha="center", va="center",
                        fontsize="x-small")
    fig.colorbar(image, ax=ax, label=colorbar)
    ax.set_title(title)
    _save(fig, path)
    return fig
