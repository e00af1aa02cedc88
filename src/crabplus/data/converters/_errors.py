"""The one error type converters raise: an annotation or media problem, named by file and row."""

from __future__ import annotations

from pathlib import Path

__all__ = ["AnnotationError"]


class AnnotationError(ValueError):
    """A dataset file is missing, unreadable or has a bad row.

    The message always starts with the file and the place inside it, e.g.
    ``AnnotationError: /data/AVE/Annotations.txt, line 7: expected 5 '&'-separated fields, got 4``.

    Args:
        path: the annotation (or media) file concerned.
        where: the place inside it (``"line 7"``, ``"record 3"``, ``"video 'abc'"``); empty for the whole file.
        message: what is wrong, naming the field.
    """

    def __init__(self, path: str | Path, where: str, message: str) -> None:
        self.path, self.where, self.message = Path(path), where, message
        place = f"{path}, {where}" if where else str(path)
        super().__init__(f"{place}: {message}")

    def __reduce__(self):  # rebuilt from its three parts when it crosses a process boundary (--workers)
        return type(self), (self.path, self.where, self.message)
