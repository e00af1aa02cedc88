"""Strings as DDP-syncable metric state.

torchmetrics synchronises tensors only. Metrics that need the label text at ``compute`` (per-class and
per-question-type scores, caption n-grams) keep each string column as two ``cat`` list states: the UTF-8
bytes of all strings concatenated (1-D uint8) and their byte lengths (1-D int64). Both states are appended in
the same ``update`` and gathered/merged in the same order, so they stay aligned across ranks, and nothing is
truncated or hashed.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = ["add_string_state", "append_strings", "read_strings", "label_key", "cat_state"]


def label_key(text: str) -> str:
    """Canonical comparison form of a label/answer: whitespace-collapsed, stripped, lower case."""
    return " ".join(str(text).split()).lower()


def add_string_state(metric: Metric, name: str) -> None:
    """Register the two list states that hold the string column ``name``."""
    metric.add_state(f"{name}_bytes", default=[], dist_reduce_fx="cat")
    metric.add_state(f"{name}_lens", default=[], dist_reduce_fx="cat")


def append_strings(metric: Metric, name: str, strings: list[str]) -> None:
    """Append strings to the column ``name``."""
    encoded = [s.encode("utf-8") for s in strings]
    flat = b"".join(encoded)
    data = torch.frombuffer(bytearray(flat), dtype=torch.uint8) if flat else torch.zeros(0, dtype=torch.uint8)
    # list states are gathered by the process group (NCCL: CUDA only): keep them on the metric's device
    getattr(metric, f"{name}_bytes").append(data.to(metric.device))
    lengths = torch.tensor([len(b) for b in encoded], dtype=torch.long, device=metric.device)
    getattr(metric, f"{name}_lens").append(lengths)


def cat_state(state: list[torch.Tensor] | torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A ``cat`` list state as one 1-D tensor, whether still a list (local) or already a tensor (synced)."""
    if isinstance(state, torch.Tensor):
        return state.to("cpu", dtype).flatten()
    if len(state) == 0:
        return torch.zeros(0, dtype=dtype)
    return dim_zero_cat(state).to("cpu", dtype)


def read_strings(metric: Metric, name: str) -> list[str]:
    """All strings of column ``name`` in update (then rank) order."""
    data = bytes(cat_state(getattr(metric, f"{name}_bytes"), torch.uint8).tolist())
    lengths = cat_state(getattr(metric, f"{name}_lens"), torch.long).tolist()
    out, pos = [], 0
    for n in lengths:
        out.append(data[pos : pos + n].decode("utf-8", errors="replace"))
        pos += n
    return out
