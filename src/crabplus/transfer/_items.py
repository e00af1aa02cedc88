"""Evaluated items as JSON text for the results store, and back.

Why store predictions and targets rather than one score per item: several task metrics are not means over
items (weighted F1 over a corpus, CIDEr's document frequencies, J&F's F, the max of a dataset-mean curve), so
a bootstrap must recompute the metric on resampled items (``_bootstrap.py``). Arrays (masks) and tensors
become ``{"__array__": dtype, "shape", "data": base64}``; tuples become lists.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from crabplus.transfer._store import ItemRow

__all__ = ["from_json", "item_rows", "to_json"]


def _plain(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {
            "__array__": str(array.dtype),
            "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii"),
        }
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            data = base64.b64decode(value["data"])
            return np.frombuffer(data, dtype=np.dtype(value["__array__"])).reshape(value["shape"]).copy()
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Canonical JSON of a prediction or target (keys sorted: equal values give equal text)."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def from_json(text: str) -> Any:
    """The prediction or target of :func:`to_json` (arrays come back as numpy arrays)."""
    return _restore(json.loads(text))


def item_rows(
    task: str,
    keys: Sequence[str],
    predictions: Sequence[Any],
    targets: Sequence[Any],
    make_metric: Callable[[], Any],
) -> list[ItemRow]:
    """One store row per item, with the task metric computed on that item alone (for reading)."""
    rows = []
    for key, prediction, target in zip(keys, predictions, targets):
        metric = make_metric()
        metric.update([prediction], [target])
        scores = {k: float(v) for k, v in metric.compute().items()}
        scores = {k: v for k, v in scores.items() if math.isfinite(v)}
        rows.append(ItemRow(task, str(key), to_json(prediction), to_json(target), scores))
    return rows
