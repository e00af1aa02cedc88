"""``TaskEntry``: one line of ``data.init_args.tasks``, typed so that a misspelt key or a wrong type fails
with its key path instead of being silently dropped.

Through the CLI jsonargparse checks entries against this dataclass; Python callers may also pass a task
name or a plain dict, which :func:`task_entries` checks the same way (``data.tasks[1].weigth: unknown
key (did you mean 'weight'?)``).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crabplus.config_blocks import ConfigError, as_config, check_value

__all__ = ["TaskEntry", "task_entries"]


@dataclass(frozen=True)
class TaskEntry:
    """One task of the multi-task mixture. The list order is the train order, i.e. the task id."""

    name: str
    """Registered task name (``crabplus.tasks.names()``), also the folder ``<root>/<name>/<split>/``."""

    weight: float | None = None
    """Relative sampling weight in the training mixture (normalised over the tasks); None = 1, or the
    size-based weight when ``data.temperature`` is set."""

    root: str | None = None
    """Dataset root of this task's shards; None = ``data.root``."""

    eval: bool = True
    """Evaluate this task in validation and test (false: trained on, never evaluated)."""


def _entry(item: Any, where: str) -> TaskEntry:
    if isinstance(item, str):
        item = {"name": item}
    if isinstance(item, TaskEntry):
        for key, hint in typing.get_type_hints(TaskEntry).items():
            check_value(getattr(item, key), hint, f"{where}.{key}")
        entry = item
    elif isinstance(item, Mapping):
        entry = as_config(TaskEntry, item, where)
    else:
        raise ConfigError(f"{where}: expected a task name or {{name, weight, root, eval}}, got {item!r}")
    if not entry.name:
        raise ConfigError(f"{where}.name: empty task name")
    if entry.weight is not None and not (math.isfinite(entry.weight) and entry.weight >= 0):
        raise ConfigError(f"{where}.weight: must be a finite number >= 0, got {entry.weight!r}")
    return entry


def task_entries(items: Sequence[Any], where: str = "data.tasks") -> list[TaskEntry]:
    """Entries from ``TaskEntry`` objects, task names or dicts; a task listed twice is an error."""
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        raise ConfigError(f"{where}: expected a list of task entries, got {items!r}")
    entries = [_entry(item, f"{where}[{i}]") for i, item in enumerate(items)]
    names = [e.name for e in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: task(s) {twice} listed twice")
    return entries
