"""The task registry: a dict of factories plus a decorator that rejects duplicates."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from crabplus.tasks._base import Task

__all__ = ["register", "get", "names"]

_FACTORIES: dict[str, Callable[[], Task]] = {}


def register(name: str) -> Callable[[Callable[[], Task]], Callable[[], Task]]:
    """Register a task factory under ``name`` (the task's file name); a second registration fails."""

    def deco(factory: Callable[[], Task]) -> Callable[[], Task]:
        if name in _FACTORIES:
            raise ValueError(f"task {name!r} is already registered (by {_FACTORIES[name].__module__})")
        _FACTORIES[name] = factory
        return factory

    return deco


@cache
def get(name: str) -> Task:
    """The task called ``name``.

    Raises:
        KeyError: for an unknown name; the message lists the valid names.
    """
    if name not in _FACTORIES:
        raise KeyError(f"unknown task {name!r}; valid tasks: {', '.join(names())}")
    task = _FACTORIES[name]()
    if task.name != name:
        raise ValueError(f"task factory registered as {name!r} built a task named {task.name!r}")
    return task


def names() -> list[str]:
    """Registered task names, sorted."""
    return sorted(_FACTORIES)
