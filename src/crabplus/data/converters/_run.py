"""Running a converter: read rows, drop the unusable ones (counted by reason), write shards atomically.

Order of work, so that the output depends only on the annotation files and the media present:

1. the converter's reading function yields samples and :class:`Skip` rows (quirks it recognises);
2. samples whose media files are missing become ``missing media`` skips;
3. samples sharing a key: identical rows (target, inputs and media) keep the first (later rows:
   ``duplicate row``); rows that differ make every row of that key a ``duplicate key with conflicting
   annotation`` skip (neither answer can be trusted, and keeping "the first" would depend on file order);
4. ``limit`` keeps the first samples per task;
5. media are read (and transcoded where needed) by ``workers`` processes, in order, and written by this
   process, so ``--workers N`` gives the same shards byte for byte as one worker.

Everything is written under a temporary folder inside ``out`` and moved to ``<out>/<task>/<split>/`` only
when the whole split succeeded; a failed run leaves no ``index.json`` behind. Skipped rows are listed in
``<out>/<task>/<split>/skipped.jsonl`` (one JSON object per row: ``file``, ``line``, ``reason``, ``detail``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import av

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import media_entry
from crabplus.data.converters._registry import get
from crabplus.data.converters._sample import (
    CONFLICTING_DUPLICATE,
    DUPLICATE_ROW,
    MISSING_MEDIA,
    UNREADABLE_MEDIA,
    Sample,
    Skip,
)
from crabplus.tasks import BAD_TARGET

__all__ = [
    "convert",
    "ConvertReport",
    "NothingWritten",
    "SHARD_VERSION",
    "SKIPPED_FILE",
    "sample_media",
]

#: ``version`` written into ``index.json`` of converted shards.
SHARD_VERSION = "1"
#: The per-split listing of skipped rows, beside the shards.
SKIPPED_FILE = "skipped.jsonl"
_MEDIA_ERRORS = (AnnotationError, OSError, ValueError, av.error.FFmpegError)


@dataclass
class ConvertReport:
    """What :func:`convert` did: samples ``written`` per task and the ``skipped`` rows (task -> reason -> n)."""

    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, Counter] = field(default_factory=dict)

    def reasons(self) -> Counter:
        """Skipped rows by reason, over all tasks."""
        return sum(self.skipped.values(), Counter())


class NothingWritten(ValueError):
    """A split where every row was skipped (or none was read); the message gives the reason counts."""

    def __init__(self, dataset: str, split: str, reasons: Counter) -> None:
        self.reasons = reasons
        counts = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) or "no rows read"
        super().__init__(f"{dataset}: no samples written for split {split!r} (skipped rows: {counts})")


def convert(
    dataset: str,
    src: str | Path,
    out: str | Path,
    split: str,
    *,
    maxcount: int = 64,
    limit: int | None = None,
    tasks: Iterable[str] | None = None,
    workers: int = 1,
    progress: bool = False,
) -> ConvertReport:
    """Convert one split of ``dataset`` under ``src`` into shards under ``out`` (see the module docstring).

    Args:
        dataset: registered converter name (:func:`crabplus.data.converters.names`).
        src: the dataset's root folder, in its official layout (see the converter's docstring).
        out: shard root; writes ``<out>/<task>/<split>/`` (replacing an earlier conversion on success).
        split: split name (the converter's ``splits``); also the output split folder.
        maxcount: samples per tar shard.
        limit: keep the first this many usable samples per task (``None``: all).
        tasks: keep only these tasks (multi-task converters such as ``avuie``); ``None``: all.
        workers: processes reading and transcoding media (the output does not depend on it).
        progress: show a progress bar on stderr.

    Returns:
        Samples written per task and the skipped rows by task and reason.

    Raises:
        AnnotationError: an annotation file is missing or malformed (names file and row).
        NothingWritten: every row of the split was skipped.
        ValueError: unknown split or a task the converter does not write.
    """
    conv = get(dataset)
    keep = set(tasks) if tasks is not None else None
    if keep is not None and not keep <= set(conv.tasks):
        raise ValueError(f"{dataset}: writes tasks {list(conv.tasks)}, not {sorted(keep - set(conv.tasks))}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    samples, skips = [], []
    for item in conv.read(Path(src), split):
        if keep is None or item.task in keep:
            (skips if isinstance(item, Skip) else samples).append(item)
    samples = _drop_missing_media(samples, skips)
    samples = _drop_duplicates(samples, skips)
    samples = _first_per_task(samples, limit)
    out = Path(out)
    staging = out / f".converting-{dataset}-{split}-{os.getpid()}"
    report = ConvertReport()
    try:
        written_tasks = _write_shards(samples, staging, split, maxcount, workers, progress, skips, report)
        skips = _unique(skips)
        for skip in skips:
            report.skipped.setdefault(skip.task, Counter())[skip.reason] += 1
        if not report.written:
            raise NothingWritten(dataset, split, report.reasons())
        _write_skip_lists(staging, split, skips, written_tasks)
        for task in written_tasks:
            _publish(staging / task / split, out / task / split)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _drop_missing_media(samples: list[Sample], skips: list[Skip]) -> list[Sample]:
    kept = []
    for sample in samples:
        missing = [p for p in sample.media.values() if not p.is_file()]
        if missing:
            skips.append(
                Skip(sample.task, sample.origin, MISSING_MEDIA, f"{missing[0]} (sample {sample.key!r})")
            )
        else:
            kept.append(sample)
    return kept


def _drop_duplicates(samples: list[Sample], skips: list[Skip]) -> list[Sample]:
    groups: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.task, sample.key), []).append(sample)
    kept = []
    for sample in samples:
        group = groups[(sample.task, sample.key)]
        if len({_content(s) for s in group}) > 1:
            first = group[0].origin
            detail = f"key {sample.key!r}; {len(group)} rows, first at {first[0].name}, {first[1]}"
            skips.append(Skip(sample.task, sample.origin, CONFLICTING_DUPLICATE, detail))
        elif sample is not group[0]:
            first = group[0].origin
            detail = f"key {sample.key!r} already read at {first[0].name}, {first[1]}"
            skips.append(Skip(sample.task, sample.origin, DUPLICATE_ROW, detail))
        else:
            kept.append(sample)
    return kept


def _content(sample: Sample) -> str:
    """What two rows with the same key must share to be the same annotation."""
    media = {role: str(path) for role, path in sample.media.items()}
    return json.dumps([sample.target, sample.meta, media, sample.reasoning], sort_keys=True, default=str)


def _unique(skips: list[Skip]) -> list[Skip]:
    """One skip per (task, row, reason): a row that gives several samples (frames) is listed once."""
    first: dict[tuple, Skip] = {}
    for skip in skips:
        first.setdefault((skip.task, skip.origin, skip.reason), skip)
    return list(first.values())


def _first_per_task(samples: list[Sample], limit: int | None) -> list[Sample]:
    if limit is None:
        return samples
    seen: Counter = Counter()
    kept = []
    for sample in samples:
        if seen[sample.task] < limit:
            seen[sample.task] += 1
            kept.append(sample)
    return kept


def _write_shards(
    samples: list[Sample],
    root: Path,
    split: str,
    maxcount: int,
    workers: int,
    progress: bool,
    skips: list[Skip],
    report: ConvertReport,
) -> list[str]:
    """Write ``samples`` under ``root``; unreadable media become skips. Returns the tasks written."""
    from crabplus.data.shards import ShardWriter  # the data package's writer

    writers: dict[str, ShardWriter] = {}
    with ExitStack() as stack:
        bar = stack.enter_context(
            _ProgressBar(len(samples), split) if progress and samples else nullcontext()
        )
        for sample, media in zip(samples, _media_stream(samples, workers, stack)):
            if isinstance(media, str):
                skips.append(
                    Skip(sample.task, sample.origin, UNREADABLE_MEDIA, f"{media} (sample {sample.key!r})")
                )
            else:
                if sample.task not in writers:
                    writer = ShardWriter(root, sample.task, split, maxcount=maxcount, version=SHARD_VERSION)
                    writers[sample.task] = stack.enter_context(writer)
                writer = writers[sample.task]
                if writer.write(sample.key, sample.meta, sample.target, media, reasoning=sample.reasoning):
                    report.written[sample.task] = report.written.get(sample.task, 0) + 1
                else:  # target out of its sample's range (crabplus.tasks.checked_target)
                    detail = f"{writer.bad_targets[-1][1]} (sample {sample.key!r})"
                    skips.append(Skip(sample.task, sample.origin, BAD_TARGET, detail))
            if bar is not None:
                bar()
    return list(writers)


def _media_stream(samples: list[Sample], workers: int, stack: ExitStack) -> Iterator[dict[str, bytes] | str]:
    """Each sample's shard media (or an error text), in sample order, from ``workers`` processes."""
    if workers == 1 or len(samples) < 2:
        return map(sample_media, samples)
    import multiprocessing

    pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
    return pool.imap(sample_media, samples, chunksize=1)


def sample_media(sample: Sample) -> dict[str, bytes] | str:
    """``{shard extension: bytes}`` of a sample, or the error text when a media file cannot be read."""
    try:
        if sample.make_media is not None:
            return sample.make_media()
        return dict(media_entry(role, path) for role, path in sample.media.items())
    except _MEDIA_ERRORS as err:
        return f"{type(err).__name__}: {err}"


class _ProgressBar:
    """A rich progress bar on stderr; calling the entered object advances it by one sample."""

    def __init__(self, total: int, split: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn(f"converting {split}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._total = total

    def __enter__(self):
        self._progress.__enter__()
        task = self._progress.add_task("convert", total=self._total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)


def _write_skip_lists(root: Path, split: str, skips: list[Skip], tasks: list[str]) -> None:
    for task in tasks:
        rows = [s for s in skips if s.task == task]
        lines = [
            json.dumps(
                {"file": str(s.origin[0]), "line": s.origin[1], "reason": s.reason, "detail": s.detail}
            )
            for s in rows
        ]
        (root / task / split / SKIPPED_FILE).write_text(
            "".join(f"{line}\n" for line in lines), encoding="utf-8"
        )


def _publish(staged: Path, final: Path) -> None:
    """Move a finished split folder into place, replacing an earlier conversion of it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".{final.name}.replaced-{os.getpid()}")
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)
