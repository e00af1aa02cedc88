"""Registry of dataset converters: a dict plus a decorator that rejects duplicates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crabplus.data.converters._sample import Sample

__all__ = ["Converter", "ReadFn", "register", "get", "names"]

#: ``read(src, split) -> samples``: parse the dataset's own layout under ``src`` for one split.
ReadFn = Callable[[Path, str], Iterator[Sample]]


@dataclass(frozen=True)
class Converter:
    """A registered converter.

    Attributes:
        name: the ``<dataset>`` argument of ``crabplus data convert``.
        tasks: task names the converter writes (most write one).
        splits: the split names it accepts.
        read: the reading function (see :data:`ReadFn`).
        doc: first line of the reading function's docstring, for ``--help``.
    """

    name: str
    tasks: tuple[str, ...]
    splits: tuple[str, ...]
    read: ReadFn
    doc: str


_REGISTRY: dict[str, Converter] = {}


def register(name: str, *, tasks: tuple[str, ...], splits: tuple[str, ...]) -> Callable[[ReadFn], ReadFn]:
    """Decorator registering ``read`` as the converter ``name``; a second registration raises."""

    def deco(read: ReadFn) -> ReadFn:
        if name in _REGISTRY:
            raise KeyError(f"converter {name!r} is already registered (by {_REGISTRY[name].read.__module__})")
        doc = (read.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Converter(name, tuple(tasks), tuple(splits), read, doc[0] if doc else "")
        return read

    return deco


def get(name: str) -> Converter:
    """The converter registered as ``name``; the error lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    """Sorted names of all registered converters."""
    return sorted(_REGISTRY)
