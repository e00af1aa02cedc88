"""What a converter yields: a sample (media still as paths, read when the shard is written) or a skipped row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Sample",
    "Skip",
    "MEDIA_ROLES",
    "sanitize_key",
    "MakeMedia",
    "MISSING_MEDIA",
    "UNREADABLE_MEDIA",
    "DUPLICATE_ROW",
    "CONFLICTING_DUPLICATE",
    "ZERO_LENGTH_SPAN",
    "BAD_SPAN",
]

# Skip reasons shared by several converters (fixed phrases, so that counts group).
MISSING_MEDIA = "missing media"
UNREADABLE_MEDIA = "unreadable media"
DUPLICATE_ROW = "duplicate row"
CONFLICTING_DUPLICATE = "duplicate key with conflicting annotation"
ZERO_LENGTH_SPAN = "zero-length span"
BAD_SPAN = "span reversed or outside the clip"

#: Builds a sample's shard media on demand: ``() -> {shard extension: bytes}`` (used when the media are
#: composed from several source files, as the a2v / v2a pairs are). Must be picklable (``--workers``).
MakeMedia = Callable[[], dict[str, bytes]]

#: What a media file is for; the shard extension follows from the role and the file (see ``_media``):
#: ``video`` (video + audio) -> ``mp4``; ``audio`` -> ``wav``/``mp3``/``flac``; ``image`` -> ``png``/``jpg``;
#: ``mask`` -> ``mask.png`` (the shard reader puts it into ``target["mask"]``).
MEDIA_ROLES = ("video", "audio", "image", "mask")

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def sanitize_key(raw: str) -> str:
    """A webdataset-safe sample key: every character outside ``[A-Za-z0-9_-]`` becomes ``_``.

    Dots must go (webdataset splits key and extension at the first dot); ``/`` would make folders.
    """
    return _UNSAFE.sub("_", raw)


@dataclass
class Sample:
    """One converted sample.

    Attributes:
        task: registered task name the sample belongs to (``"ave"``, ``"s4"``, ...).
        key: unique key within the task and split (sanitised with :func:`sanitize_key` on creation).
        meta: task inputs (question, options, frame index, ...), JSON-serialisable.
        target: the structured target in the task's format (architecture.md, "Target formats").
        media: role (one of :data:`MEDIA_ROLES`) -> source file; read into shard bytes when written.
        reasoning: explicit reasoning / full answer text where the source has one (AV-UIE), else ``None``.
        origin: ``(annotation file, "line N" / "record N")`` the sample came from, for error messages.
        make_media: when set, the shard media come from ``make_media()`` instead of ``media`` (then empty).
    """

    task: str
    key: str
    meta: dict[str, Any]
    target: dict[str, Any]
    media: dict[str, Path] = field(default_factory=dict)
    reasoning: str | None = None
    origin: tuple[Path, str] = (Path("?"), "")
    make_media: MakeMedia | None = None

    def __post_init__(self) -> None:
        self.key = sanitize_key(self.key)
        unknown = set(self.media) - set(MEDIA_ROLES)
        if unknown:
            raise ValueError(
                f"sample {self.key!r}: unknown media roles {sorted(unknown)}; known: {MEDIA_ROLES}"
            )


@dataclass(frozen=True)
class Skip:
    """An annotation row that cannot become a sample (a known quirk of real data, not a fatal error).

    The runner counts skips by ``reason`` and lists them in ``<out>/<task>/<split>/skipped.jsonl``.

    Attributes:
        task: the task whose split the row belongs to.
        origin: ``(annotation file, "line N" / "record N")`` of the row.
        reason: a short, fixed phrase per kind of problem (``"zero-length span"``, ``"missing media"``, ...),
            so that counts group; details go into ``detail``.
        detail: what exactly is wrong with this row (values, file names).
    """

    task: str
    origin: tuple[Path, str]
    reason: str
    detail: str = ""
