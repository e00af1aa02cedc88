"""Transfer reports as files: ``transfer.md``, ``transfer.csv`` and ``transfer.png`` (and the variant comparison).

Numbers are relative changes (fractions) printed as percentages; "±" is the sample std over seeds.
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

CSV_FIELDS = ["task", "metric", "higher_is_better", "single_task", "multitask", "relative_change",
              "relative_change_std", "task_change", "n_seeds"]


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
    order = sorted(summary.task_change, key=lambda t: -summary.task_change[t].mean)
    rows = []
    for task in order:
        for metric, change in summary.relative_change[task].items():
            rows.append({
                "task": task, "metric": metric, "higher_is_better": _direction(summary, task, metric),
                "single_task": summary.single_task.get(task, {}).get(metric, math.nan),
                "multitask": summary.multitask.get(task, {}).get(metric, math.nan),
                "relative_change": change.mean, "relative_change_std": change.std,
                "task_change": summary.task_change[task].mean, "n_seeds": change.n,
            })
    for task in summary.missing:
        for metric, value in summary.multitask.get(task, {}).items():
            rows.append({"task": task, "metric": metric, "higher_is_better": None, "single_task": math.nan,
                         "multitask": value, "relative_change": math.nan, "relative_change_std": math.nan,
                         "task_change": math.nan, "n_seeds": 0})
    return rows


def report_markdown(summary: TransferSummary, title: str = "Transfer vs single-task baselines") -> str:
    """The report as markdown: headline numbers, then a per-metric table (best task first)."""
    lines = [f"# {title}", "", *_headline(summary), "",
             "| task | metric | dir | single-task | multitask | relative change | task Δ_t |",
             "|---|---|---|---:|---:|---:|---:|"]
    for row in report_rows(summary):
        direction = {True: "↑", False: "↓", None: "?"}[row["higher_is_better"]]  # type: ignore[index]
        change = summary.relative_change.get(str(row["task"]), {}).get(str(row["metric"]))
        task_change = summary.task_change.get(str(row["task"]))
        lines.append(
            f"| {row['task']} | {row['metric']} | {direction} | {_num(row['single_task'])} | "
            f"{_num(row['multitask'])} | {change if change else 'missing'} | {task_change if task_change else '—'} |"
        )
    return "\n".join(lines) + "\n"


def _num(value: object) -> str:
    return "—" if not isinstance(value, float) or math.isnan(value) else f"{value:.4g}"


def write_report(summary: TransferSummary, out_dir: str | os.PathLike[str], stem: str = "transfer",
                 title: str = "Transfer vs single-task baselines") -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.png`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / f"{stem}.md", "csv": out / f"{stem}.csv", "png": out / f"{stem}.png"}
    paths["md"].write_text(report_markdown(summary, title), encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(report_rows(summary))
    plot_transfer_bars(summary.task_change, paths["png"], title=f"{title} (Δm {summary.delta_m.mean:+.1%})")
    return paths


def _cell(summary: TransferSummary, task: str) -> str:
    if task in summary.task_change:
        return str(summary.task_change[task])
    return "no baseline" if task in summary.missing else "—"


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
    lines.append("| **Δm** | " + " | ".join(f"**{summaries[x].delta_m}**" for x in labels) + " |")
    lines.append("| positive share | "
                 + " | ".join(f"{summaries[x].positive_share.mean:.0%}" for x in labels) + " |")
    lines.append("| worst drop | " + " | ".join(_worst(summaries[x]) for x in labels) + " |")
    lines.append("| seeds | " + " | ".join(str(len(summaries[x].reports)) for x in labels) + " |")
    missing = {x: s.missing for x, s in summaries.items() if s.missing}
    if missing:
        lines += ["", "Missing single-task baselines: "
                  + "; ".join(f"{x}: {', '.join(m)}" for x, m in missing.items())]
    return "\n".join(lines) + "\n"


def write_comparison(summaries: Mapping[str, TransferSummary], out_dir: str | os.PathLike[str],
                     stem: str = "comparison") -> dict[str, Path]:
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
