"""Transfer reports as files: ``transfer.md``, ``transfer.csv`` and ``transfer.png`` (and the variant comparison).

Numbers are relative changes (fractions) printed as percentages; "±" is the sample std over seeds; "[a, b]" is
the paired bootstrap's 95 % interval and the verdict that follows from it (``_bootstrap.py``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path

from crabplus.transfer._compare import TransferSummary
from crabplus.transfer._plots import plot_comparison, plot_transfer_bars

__all__ = [
    "comparison_markdown",
    "report_markdown",
    "report_rows",
    "write_comparison",
    "write_report",
]

CSV_FIELDS = [
    "task",
    "metric",
    "higher_is_better",
    "single_task",
    "multitask",
    "relative_change",
    "relative_change_std",
    "task_change",
    "task_change_low",
    "task_change_high",
    "verdict",
    "n_items",
    "n_seeds",
]


def _interval(summary: TransferSummary, task: str):
    return summary.intervals.tasks.get(task) if summary.intervals is not None else None


def _worst(summary: TransferSummary) -> str:
    if not summary.task_change:
        return "n/a"
    task = min(summary.task_change, key=lambda t: summary.task_change[t].mean)
    return f"{task} ({summary.task_change[task]})"


def _headline(summary: TransferSummary) -> list[str]:
    n_tasks = len(summary.task_change)
    n_pos = sum(1 for v in summary.task_change.values() if v.mean > 0)
    seeds = len(summary.reports)
    lines = [
        f"- Δm (mean relative change over tasks): **{summary.delta_m}**"
        + (f" over {seeds} seeds" if seeds > 1 else ""),
        f"- positive transfer: **{summary.positive_share.mean:.0%}** of tasks "
        f"({n_pos}/{n_tasks} by seed-mean Δ_t)",
        f"- worst task: {_worst(summary)}",
    ]
    if summary.intervals is not None and summary.intervals.tasks:
        ints = summary.intervals
        n_sig = sum(ti.verdict == "positive" for ti in ints.tasks.values())
        lines[0] += f"; 95 % interval {_bounds(ints.delta_m)}"
        lines[1] += f"; significant gains: **{ints.significant_share:.0%}** ({n_sig}/{len(ints.tasks)})"
        lines.append(
            f"- intervals: paired bootstrap over {summary.split} items, {ints.replicates} replicates "
            "(positive / negative: the 95 % interval excludes 0; inconclusive otherwise)"
        )
    if summary.intervals is not None and summary.intervals.unpaired:
        lines.append(
            "- no interval: " + "; ".join(f"{t} ({why})" for t, why in summary.intervals.unpaired.items())
        )
    if summary.missing:
        lines.append(f"- **missing single-task baselines** (not in Δm): {', '.join(summary.missing)}")
    undefined = sorted({u for r in summary.reports for u in r.undefined})
    if undefined:
        lines.append(f"- undefined relative change (zero baseline): {', '.join(undefined)}")
    return lines


def _direction(summary: TransferSummary, task: str, metric: str) -> bool | None:
    for report in summary.reports:
        if metric in report.higher_is_better.get(task, {}):
            return report.higher_is_better[task][metric]
    return None


def report_rows(summary: TransferSummary) -> list[dict[str, object]]:
    """One row per (task, metric) with a baseline, tasks ordered from best to worst Δ_t."""
    order = sorted(summary.task_change, key=lambda t: (-summary.task_change[t].mean, t))
    rows = []
    for task in order:
        interval = _interval(summary, task)
        for metric, change in sorted(summary.relative_change[task].items()):
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "higher_is_better": _direction(summary, task, metric),
                    "single_task": summary.single_task.get(task, {}).get(metric, math.nan),
                    "multitask": summary.multitask.get(task, {}).get(metric, math.nan),
                    "relative_change": change.mean,
                    "relative_change_std": change.std,
                    "task_change": summary.task_change[task].mean,
                    "task_change_low": interval.change.low if interval else math.nan,
                    "task_change_high": interval.change.high if interval else math.nan,
                    "verdict": interval.verdict if interval else "",
                    "n_items": interval.n_items if interval else "",
                    "n_seeds": change.n,
                }
            )
    for task in summary.missing:
        for metric, value in sorted(summary.multitask.get(task, {}).items()):
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "higher_is_better": None,
                    "single_task": math.nan,
                    "multitask": value,
                    "relative_change": math.nan,
                    "relative_change_std": math.nan,
                    "task_change": math.nan,
                    "task_change_low": math.nan,
                    "task_change_high": math.nan,
                    "verdict": "no baseline",
                    "n_items": "",
                    "n_seeds": 0,
                }
            )
    return rows


def _bounds(interval) -> str:
    return f"[{interval.low:+.1%}, {interval.high:+.1%}]"


def report_markdown(summary: TransferSummary, title: str = "Transfer vs single-task baselines") -> str:
    """The report as markdown: headline numbers, then a per-metric table (best task first)."""
    lines = [
        f"# {title}",
        "",
        *_headline(summary),
        "",
        "| task | metric | dir | single-task | multitask | relative change | task Δ_t | 95 % interval | verdict |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in report_rows(summary):
        direction = {True: "↑", False: "↓", None: "?"}[row["higher_is_better"]]  # type: ignore[index]
        change = summary.relative_change.get(str(row["task"]), {}).get(str(row["metric"]))
        task_change = summary.task_change.get(str(row["task"]))
        interval = _interval(summary, str(row["task"]))
        lines.append(
            f"| {row['task']} | {row['metric']} | {direction} | {_num(row['single_task'])} | "
            f"{_num(row['multitask'])} | {change if change else 'missing'} | {task_change if task_change else '—'} | "
            f"{_bounds(interval.change) if interval else '—'} | {interval.verdict if interval else '—'} |"
        )
    return "\n".join(lines) + "\n"


def _num(value: object) -> str:
    return "—" if not isinstance(value, float) or math.isnan(value) else f"{value:.4g}"


def write_report(
    summary: TransferSummary,
    out_dir: str | os.PathLike[str],
    stem: str = "transfer",
    title: str = "Transfer vs single-task baselines",
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.png`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / f"{stem}.md", "csv": out / f"{stem}.csv", "png": out / f"{stem}.png"}
    paths["md"].write_text(report_markdown(summary, title), encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(report_rows(summary))
    plot_transfer_bars(
        summary.task_change,
        paths["png"],
        title=f"{title} (Δm {summary.delta_m.mean:+.1%})",
        intervals=summary.intervals,
    )
    return paths


def _cell(summary: TransferSummary, task: str) -> str:
    if task not in summary.task_change:
        return "no baseline" if task in summary.missing else "—"
    interval = _interval(summary, task)
    if interval is None:
        return str(summary.task_change[task])
    text = f"{interval.change.point:+.1%} {_bounds(interval.change)} {interval.verdict}"
    return f"**{text}**" if interval.verdict != "inconclusive" else text


def comparison_markdown(summaries: Mapping[str, TransferSummary], title: str = "Transfer by variant") -> str:
    """Variants side by side: per-task Δ_t rows, then Δm / positive share / worst drop.

    A cell reads "no baseline" when the variant trained the task but no single-task run exists, "—" when the
    variant did not train the task.
    """
    labels = list(summaries)
    tasks = sorted({t for s in summaries.values() for t in (*s.task_change, *s.missing)})
    lines = [f"# {title}", "", "| task | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(_cell(summaries[x], task) for x in labels) + " |")
    lines.append("| **Δm** | " + " | ".join(f"**{_delta_m(summaries[x])}**" for x in labels) + " |")
    lines.append(
        "| positive share (raw) | "
        + " | ".join(f"{summaries[x].positive_share.mean:.0%}" for x in labels)
        + " |"
    )
    lines.append(
        "| positive share (significant) | " + " | ".join(_significant(summaries[x]) for x in labels) + " |"
    )
    lines.append("| worst drop | " + " | ".join(_worst(summaries[x]) for x in labels) + " |")
    lines.append("| seeds | " + " | ".join(str(len(summaries[x].reports)) for x in labels) + " |")
    splits = "/".join(sorted({summaries[x].split for x in labels}))
    lines.append(f"| {splits} items per task | " + " | ".join(_items(summaries[x]) for x in labels) + " |")
    replicates = {
        s.intervals.replicates for s in summaries.values() if s.intervals is not None and s.intervals.tasks
    }
    if replicates:
        lines += [
            "",
            f"Cells: Δ_t [95 % paired bootstrap interval, {max(replicates)} replicates] and the verdict: "
            "positive or negative when the interval excludes 0 (bold), inconclusive otherwise.",
        ]
    single = [x for x in labels if len(summaries[x].reports) == 1]
    if single:
        lines += [
            "",
            f"One seed ({', '.join(single)}): the intervals cover which {splits} items were drawn, not how training "
            "happened to go; another seed, or another dropout draw, can flip a verdict. Train the baselines and "
            "the multitask runs over several seeds (`crabplus transfer baselines --seeds 0 1 2`) and the "
            "report resamples the seeds too.",
        ]
    unpaired = {x: s.intervals.unpaired for x, s in summaries.items() if s.intervals and s.intervals.unpaired}
    if unpaired:
        lines += [
            "",
            "No interval: "
            + "; ".join(
                f"{x}: " + ", ".join(f"{t} ({why})" for t, why in u.items()) for x, u in unpaired.items()
            ),
        ]
    missing = {x: s.missing for x, s in summaries.items() if s.missing}
    if missing:
        lines += [
            "",
            "Missing single-task baselines: " + "; ".join(f"{x}: {', '.join(m)}" for x, m in missing.items()),
        ]
    return "\n".join(lines) + "\n"


def _delta_m(summary: TransferSummary) -> str:
    if summary.intervals is None or not summary.intervals.tasks:
        return str(summary.delta_m)
    return f"{summary.delta_m} {_bounds(summary.intervals.delta_m)}"


def _significant(summary: TransferSummary) -> str:
    if summary.intervals is None or not summary.intervals.tasks:
        return "—"
    tasks = summary.intervals.tasks
    n = sum(ti.verdict == "positive" for ti in tasks.values())
    return f"{summary.intervals.significant_share:.0%} ({n}/{len(tasks)})"


def _items(summary: TransferSummary) -> str:
    if summary.intervals is None or not summary.intervals.tasks:
        return "—"
    counts = sorted({ti.n_items for ti in summary.intervals.tasks.values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def write_comparison(
    summaries: Mapping[str, TransferSummary], out_dir: str | os.PathLike[str], stem: str = "comparison"
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` (variant column added) and ``<stem>.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / f"{stem}.md", "csv": out / f"{stem}.csv", "png": out / f"{stem}.png"}
    paths["md"].write_text(comparison_markdown(summaries), encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["variant", *CSV_FIELDS])
        writer.writeheader()
        for label, summary in summaries.items():
            writer.writerows({"variant": label, **row} for row in report_rows(summary))
    plot_comparison(summaries, paths["png"])
    return paths
