"""Routing-statistics files and heatmaps, shared by the Lightning callback and the notebook.

Files written per validation (``write_routing_stats``)::

    <dir>/routing_stats_step<step>.json   {"version", "step", "tasks", "modalities", "rows": [...]}
    <dir>/routing_stats_step<step>.csv    the same rows (layer, group, task, modality, head, mean_gate,
                                          entropy, tokens)
    <dir>/routing_heatmap_step<step>.png  task × head mean gate, one panel per layer group

Heatmap cell (group, task, head) = Σ_{layers in group, modalities} tokens · mean_gate / Σ tokens: the
token-weighted mean gate of that head over every layer of the group.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_routing_stats", "read_routing_stats", "heatmap_matrices", "plot_routing_heatmaps", "FIELDS"]

FIELDS = ("layer", "group", "task", "modality", "head", "mean_gate", "entropy", "tokens")


def write_routing_stats(
    rows: list[dict],
    directory: str | Path,
    step: int,
    tasks: list[str],
    modalities: list[str],
    plot: bool = True,
) -> dict[str, Path]:
    """Write the JSON, CSV (and PNG) of one validation; returns their paths by kind."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"step{step:07d}"
    paths = {"json": out / f"routing_stats_{stem}.json", "csv": out / f"routing_stats_{stem}.csv"}
    doc = {"version": 1, "step": step, "tasks": tasks, "modalities": modalities, "rows": rows}
    paths["json"].write_text(json.dumps(doc, indent=1))
    with paths["csv"].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(FIELDS))
        writer.writeheader()
        writer.writerows(rows)
    if plot and rows:
        paths["png"] = plot_routing_heatmaps(rows, out / f"routing_heatmap_{stem}.png", title=f"step {step}")
    return paths


def read_routing_stats(path: str | Path) -> dict[str, Any]:
    """Load a ``routing_stats_*.json`` file (or the newest one in a directory)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("routing_stats_step*.json"))
        if not files:
            raise FileNotFoundError(f"no routing_stats_step*.json in {p}")
        p = files[-1]
    return json.loads(p.read_text())


def heatmap_matrices(rows: list[dict]) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{group: (task labels, matrix (tasks, heads))}`` of token-weighted mean gates."""
    num: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    den: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    for r in rows:
        num[r["group"]][r["task"]][int(r["head"])] += float(r["tokens"]) * float(r["mean_gate"])
        den[r["group"]][r["task"]][int(r["head"])] += float(r["tokens"])
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for group in sorted(num):
        tasks = sorted(num[group])
        heads = 1 + max(h for t in tasks for h in num[group][t])
        matrix = np.full((len(tasks), heads), np.nan)
        for i, task in enumerate(tasks):
            for h, value in num[group][task].items():
                matrix[i, h] = value / den[group][task][h]
        out[group] = (tasks, matrix)
    return out


def plot_routing_heatmaps(rows: list[dict], path: str | Path, title: str = "") -> Path:
    """One task × head heatmap per layer group, written as a PNG (headless Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    mats = heatmap_matrices(rows)
    cols = min(4, max(1, len(mats)))
    nrows = (len(mats) + cols - 1) // cols
    fig, axes = plt.subplots(
        nrows, cols, figsize=(3.2 * cols, 0.4 * nrows * max(3, _max_tasks(mats)) + 1.2), squeeze=False
    )
    for ax, (group, (tasks, matrix)) in zip(axes.flat, mats.items()):
        image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        ax.set_title(_short(group), fontsize=8)
        ax.set_xticks(range(matrix.shape[1]), [f"h{h}" for h in range(matrix.shape[1])], fontsize=7)
        ax.set_yticks(range(len(tasks)), tasks, fontsize=7)
    for ax in list(axes.flat)[len(mats) :]:
        ax.axis("off")
    if mats:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="mean gate")
    fig.suptitle(title or "I-LoRA routing", fontsize=10)
    out = Path(path)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def _max_tasks(mats: dict[str, tuple[list[str], np.ndarray]]) -> int:
    return max((len(t) for t, _ in mats.values()), default=1)


def _short(group: str) -> str:
    """Keep the component and the last two name parts: ``language_model…self_attn.q_proj``."""
    parts = group.split(".")
    return group if len(parts) <= 3 else f"{parts[0]}…{'.'.join(parts[-2:])}"
