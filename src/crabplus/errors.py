"""``CrabplusError``: the mark of a stop the project means to make.

A run that stops because of the user's config, files or data (a misspelt task, a missing data root, a
truncated checkpoint, a data stream over its skip limit) is not a bug: the ``crabplus`` command prints
the message — what, where (key path, file, shard/key, step), what to do — in one or two lines and exits
non-zero; ``--debug`` (or ``CRABPLUS_DEBUG=1``) shows the traceback. Project exceptions subclass this
*and* the builtin they always were (``KeyError``, ``ValueError``, ...), so existing ``except`` clauses
keep working. This module is the bottom layer: it imports nothing of crabplus.
"""

from __future__ import annotations

__all__ = ["ConfigError", "CrabplusError", "error_report"]


class CrabplusError(Exception):
    """An error the user fixes in their config, files or data; its message is the whole report.

    Keep the constructor's single-string form: an error raised inside a DataLoader worker is rebuilt in
    the main process as ``type(err)(text)``.
    """

    def __str__(self) -> str:  # KeyError subclasses would otherwise print with repr quotes
        return str(self.args[0]) if self.args else ""


class ConfigError(CrabplusError, ValueError):
    """A config value that cannot be used; the message starts with its key path."""


def error_report(err: BaseException) -> str | None:
    """The one- or two-line report of a project error, or None for a bug (whose traceback is wanted).

    Looks through the chain of causes (the config parser and Lightning wrap what the project raised), and
    unwraps an error a DataLoader worker re-raised in the main process (its text then starts with
    "Caught X in DataLoader worker process N" and holds the worker's whole traceback).
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CrabplusError):
            return _worker_message(str(current), type(current).__name__)
        current = current.__cause__ or current.__context__
    return None


def _worker_message(text: str, name: str) -> str:
    """The original message of an error re-raised from a DataLoader worker (``text`` itself otherwise)."""
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return text
    lines = text.rstrip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        head = lines[i].split(": ", 1)[0]
        if head == name or head.endswith("." + name):
            return "\n".join([lines[i].split(": ", 1)[1], *lines[i + 1 :]]).strip()
    return lines[-1]
