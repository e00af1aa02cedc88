"""Running a converter: read samples, load their media, write them through the shard writer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import media_entry
from crabplus.data.converters._registry import get
from crabplus.data.converters._sample import Sample

__all__ = ["convert", "ConvertReport", "SHARD_VERSION"]

#: ``version`` written into ``index.json`` of converted shards.
SHARD_VERSION = "1"


@dataclass
class ConvertReport:
    """What :func:`convert` did: samples ``written`` per task, samples ``skipped_missing`` media."""

    written: dict[str, int] = field(default_factory=dict)
    skipped_missing: int = 0


def convert(
    dataset: str,
    src: str | Path,
    out: str | Path,
    split: str,
    *,
    maxcount: int = 64,
    limit: int | None = None,
    tasks: Iterable[str] | None = None,
    skip_missing: bool = False,
) -> ConvertReport:
    """Convert one split of ``dataset`` under ``src`` into shards under ``out``.

    Writes ``<out>/<task>/<split>/shard-*.tar`` + ``index.json`` through
    :class:`crabplus.data.shards.ShardWriter`, one writer per task met.

    Args:
        dataset: registered converter name (:func:`crabplus.data.converters.names`).
        src: the dataset's root folder, in its official layout (see the converter's docstring).
        out: shard root.
        split: split name (the converter's ``splits``); also the output split folder.
        maxcount: samples per tar shard.
        limit: stop after this many samples per task (``None``: all).
        tasks: keep only these tasks (multi-task converters such as ``avuie``); ``None``: all.
        skip_missing: skip samples whose media files are missing (counted) instead of raising.

    Returns:
        Samples written per task and the number skipped for missing media.

    Raises:
        AnnotationError: a bad annotation row or a missing media file (names file and row).
        ValueError: unknown split, duplicate sample key, or a task the converter does not write.
    """
    from crabplus.data.shards import ShardWriter  # the data package's writer (contract in the brief)

    conv = get(dataset)
    keep = set(tasks) if tasks is not None else None
    if keep is not None and not keep <= set(conv.tasks):
        raise ValueError(f"{dataset}: writes tasks {list(conv.tasks)}, not {sorted(keep - set(conv.tasks))}")
    report = ConvertReport()
    counts = report.written
    seen: dict[str, set[str]] = {}
    with contextlib.ExitStack() as stack:
        writers = {}
        for sample in conv.read(Path(src), split):
            if keep is not None and sample.task not in keep:
                continue
            if limit is not None and counts.get(sample.task, 0) >= limit:
                continue
            if not _media_present(sample, skip_missing):
                report.skipped_missing += 1
                continue
            _check_unique(sample, seen.setdefault(sample.task, set()), dataset)
            if sample.task not in writers:
                writer = ShardWriter(Path(out), sample.task, split, maxcount=maxcount, version=SHARD_VERSION)
                writers[sample.task] = stack.enter_context(writer)
            _write(writers[sample.task], sample)
            counts[sample.task] = counts.get(sample.task, 0) + 1
    return report


def _media_present(sample: Sample, skip_missing: bool) -> bool:
    """Whether all media files exist; raises naming the annotation row unless ``skip_missing``."""
    missing = [p for p in sample.media.values() if not p.is_file()]
    if missing and not skip_missing:
        raise AnnotationError(*sample.origin, f"media file not found: {missing[0]} (sample {sample.key!r})")
    return not missing


def _check_unique(sample: Sample, seen: set[str], dataset: str) -> None:
    if sample.key in seen:
        raise ValueError(f"{dataset}: duplicate sample key {sample.key!r} in task {sample.task!r}")
    seen.add(sample.key)


def _write(writer, sample: Sample) -> None:
    media = dict(media_entry(role, path) for role, path in sample.media.items())
    writer.write(sample.key, sample.meta, sample.target, media, reasoning=sample.reasoning)
