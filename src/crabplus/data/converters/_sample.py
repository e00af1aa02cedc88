"""What a converter yields: one sample, with media still as paths (read when the shard is written)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Sample", "MEDIA_ROLES", "sanitize_key"]

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
    """

    task: str
    key: str
    meta: dict[str, Any]
    target: dict[str, Any]
    media: dict[str, Path] = field(default_factory=dict)
    reasoning: str | None = None
    origin: tuple[Path, str] = (Path("?"), "")

    def __post_init__(self) -> None:
        self.key = sanitize_key(self.key)
        unknown = set(self.media) - set(MEDIA_ROLES)
        if unknown:
            raise ValueError(
                f"sample {self.key!r}: unknown media roles {sorted(unknown)}; known: {MEDIA_ROLES}"
            )
