"""One JSON-ready row per evaluated item: what the model was asked, what it wrote, how it parsed, how it scored.

Rows are what ``crabplus predict`` and ``crabplus test --save_predictions`` write (one JSONL line each,
:class:`crabplus.train.callbacks.PredictionWriter`): ``task``, ``key``, ``prompt``, ``generated`` (the raw
text), ``parsed`` (the task parser's structure), ``target``, ``score`` (the task metric on this item alone;
corpus-level metrics such as CIDEr-D are only indicative per item) and ``primary_metric``.
Tensors become lists; a large array (a mask) becomes its shape and foreground share, so a row stays a line.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from crabplus import tasks
from crabplus.data.batch import Batch

__all__ = ["prediction_rows", "item_score", "jsonable"]

MAX_LISTED = 64  # arrays with more elements are summarised


def jsonable(value: Any) -> Any:
    """``value`` with tensors/arrays as lists (or a summary when large) and non-finite floats as None."""
    if isinstance(value, torch.Tensor):
        value = (
            value.detach().cpu().float().numpy()
            if value.is_floating_point()
            else value.detach().cpu().numpy()
        )
    if isinstance(value, np.ndarray):
        if value.size > MAX_LISTED:
            return {"shape": list(value.shape), "foreground": round(float((value > 0.5).mean()), 6)}
        return jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def item_score(task: str, prediction: dict, target: dict) -> dict[str, float | None]:
    """The task's metric computed on this one item (every metric key; None where undefined)."""
    metric = tasks.get(task).make_metric()
    metric.update([prediction], [target])
    values = metric.compute()
    return {name: jsonable(float(v)) for name, v in values.items()}


def prediction_rows(batch: Batch, texts: list[str], parsed: list[dict]) -> list[dict[str, Any]]:
    """Rows of one task-homogeneous batch."""
    rows = []
    for i, (task, text, prediction) in enumerate(zip(batch["task"], texts, parsed)):
        target = batch["target"][i]
        rows.append(
            {
                "task": task,
                "key": batch["key"][i],
                "prompt": batch["prompt"][i],
                "generated": text,
                "parsed": jsonable(prediction),
                "target": jsonable(target),
                "score": item_score(task, prediction, target),
                "primary_metric": tasks.get(task).primary_metric,
            }
        )
    return rows
