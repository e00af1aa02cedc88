"""WebDataset tar shards: one folder per task and split, plus ``index.json`` (docs/architecture.md).

Layout: ``<root>/<task>/<split>/shard-%06d.tar`` and ``index.json`` =
``{"task", "split", "num_samples", "version", "shards": [...], "counts": [...], "media": [...]}``
(``counts`` = samples per shard, ``media`` = union of media keys, used to group tasks by modality
without opening a shard). A sample is ``<key>.<ext>`` members: media bytes and ``<key>.json`` =
``{"task", "meta", "target", "reasoning"}``. The files are plain tars readable by ``webdataset``.

Where shards live: a dataset root is a local folder or a URL prefix that ``webdataset.gopen`` opens —
``file:///data/x``, ``http(s)://host/x`` (streamed through ``curl``), or ``pipe:CMD`` for object storage
through the user's own tool (``pipe:aws s3 cp s3://bucket/x/{} -``: ``{}`` becomes ``<task>/<split>/<file>``;
without ``{}`` the relative path is appended). Shards are streamed, never downloaded whole.

Decision: written with ``tarfile`` directly (members in a fixed order, mtime 0) so that the same samples give
byte-identical shards. Read through webdataset (``gopen`` for every location, ``tar_file_iterator`` for the
members) and grouped into samples here, so that the reader can report the shard and key of a broken sample
instead of failing inside a pipeline, and so that the order of samples (which the exact resume replays) is
the file order of each shard whatever the transport.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from crabplus import tasks
from crabplus.errors import CrabplusError
from crabplus.tasks import BAD_TARGET, BadTarget, checked_target

__all__ = [
    "MissingShardsError",
    "ShardWriter",
    "read_index",
    "shard_paths",
    "iter_shard",
    "is_url",
    "join_location",
    "MEDIA_EXTENSIONS",
    "SHARD_PATTERN",
]

SHARD_PATTERN = "shard-%06d.tar"


class MissingShardsError(CrabplusError, FileNotFoundError):
    """A task/split folder without a readable ``index.json`` (wrong data root, data not built yet)."""


FIX_ROOT = "set data.init_args.root (or the task's root) to the folder holding <task>/<split>/index.json"
MEDIA_EXTENSIONS = ("mp4", "wav", "mp3", "flac", "png", "jpg", "mask.png")


def _registered_task(name: str):
    """The registered task ``name`` (its targets are checked on write), None for an unregistered name."""
    try:
        return tasks.get(name)
    except KeyError:
        return None


class ShardWriter:
    """Writes one task/split folder of shards; ``close`` (or leaving the ``with``) writes index.json.

    Args:
        root: dataset root; files go to ``root/task/split``.
        task, split: names (the folder layout and the json ``task`` field).
        maxcount: samples per shard.
        version: data version recorded in index.json (part of a run's recipe fingerprint).
    """

    def __init__(
        self, root: str | os.PathLike, task: str, split: str, maxcount: int = 64, version: str = "1"
    ):
        if maxcount < 1:
            raise ValueError(f"ShardWriter maxcount must be >= 1, got {maxcount}")
        self.dir = Path(root) / task / split
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("shard-*.tar"):
            old.unlink()
        self.task, self.split, self.maxcount, self.version = task, split, maxcount, str(version)
        self.counts: list[int] = []
        self.media: set[str] = set()
        self._keys: set[str] = set()
        self._tar: tarfile.TarFile | None = None
        self.bad_targets: list[tuple[str, str]] = []  # (key, reason) of samples not written
        self._task = _registered_task(task)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(
        self, key: str, meta: dict, target: dict, media: dict[str, bytes], reasoning: str | None = None
    ) -> bool:
        """Add one sample; False (and the sample recorded in ``bad_targets``) when its target is out of range
        (``crabplus.tasks.checked_target``; clipped instead when the task declares it). A ``target["mask"]``
        array is moved to ``mask.png`` (masks never go to json)."""
        self._check_key(key)
        media, target = dict(media), dict(target)
        if self._task is not None:
            try:
                target = checked_target(self._task, target)
            except BadTarget as err:
                self.bad_targets.append((key, str(err)))
                return False
        if "mask" in target:
            from crabplus.data.encode import encode_mask_png

            media["mask.png"] = encode_mask_png(np.asarray(target.pop("mask")))
        for ext in media:
            if ext not in MEDIA_EXTENSIONS:
                raise ValueError(f"sample {key!r}: media key {ext!r} not one of {MEDIA_EXTENSIONS}")
        record = {"task": self.task, "meta": meta, "target": target, "reasoning": reasoning}
        if not self.counts or self.counts[-1] >= self.maxcount:
            self._next_shard()
        for ext in sorted(media):
            self._add(f"{key}.{ext}", media[ext])
        self._add(f"{key}.json", json.dumps(record, sort_keys=True).encode())
        self.counts[-1] += 1
        self.media.update(media)
        return True

    def close(self) -> None:
        """Finish the last shard and write index.json (atomically)."""
        if self._tar is not None:
            self._tar.close()
            self._tar = None
        index = {
            "task": self.task,
            "split": self.split,
            "num_samples": int(sum(self.counts)),
            "version": self.version,
            "shards": [SHARD_PATTERN % i for i in range(len(self.counts))],
            "counts": list(self.counts),
            "media": sorted(self.media),
        }
        if self.bad_targets:
            index[BAD_TARGET] = len(self.bad_targets)
        tmp = self.dir / "index.json.tmp"
        tmp.write_text(json.dumps(index, indent=1))
        tmp.replace(self.dir / "index.json")

    def _check_key(self, key: str) -> None:
        if not key or "." in key or "/" in key:
            raise ValueError(
                f"sample key {key!r} must be non-empty without '.' or '/' (webdataset splits on them)"
            )
        if key in self._keys:
            raise ValueError(f"duplicate sample key {key!r} in {self.dir}")
        self._keys.add(key)

    def _next_shard(self) -> None:
        if self._tar is not None:
            self._tar.close()
        self._tar = tarfile.open(
            self.dir / (SHARD_PATTERN % len(self.counts)), "w", format=tarfile.USTAR_FORMAT
        )
        self.counts.append(0)

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        self._tar.addfile(info, io.BytesIO(data))


def is_url(location: str | os.PathLike) -> bool:
    """A location ``webdataset.gopen`` opens other than a plain path: ``scheme://...`` or ``pipe:...``."""
    text = str(location) if isinstance(location, str) else ""
    return "://" in text or text.startswith("pipe:")


def join_location(root: str | os.PathLike, *parts: str) -> str | Path:
    """``root/part/...``: a Path for a local root, a string for a URL root (``{}`` in a ``pipe:`` command is
    replaced by the relative path, which is appended otherwise)."""
    if not is_url(root):
        return Path(root, *parts)
    relative = "/".join(parts)
    if str(root).startswith("pipe:") and "{}" in str(root):
        return str(root).replace("{}", relative)
    return f"{str(root).rstrip('/')}/{relative}"


def _open(location: str | os.PathLike):
    from webdataset.gopen import gopen  # webdataset pulls in torch utilities: imported when data is read

    return gopen(str(location), "rb")


def read_index(root: str | os.PathLike, task: str, split: str) -> dict:
    """index.json of ``root/task/split``; errors name the path and list the tasks found under a local root."""
    if is_url(root):
        location = join_location(root, task, split, "index.json")
        try:
            with _open(location) as f:
                return json.loads(f.read())
        except (OSError, ValueError) as err:
            raise MissingShardsError(
                f"no shards for task {task!r} split {split!r}: {location} could not be read ({err}); {FIX_ROOT}"
            ) from err
    path = Path(root) / task / split / "index.json"
    if not path.is_file():
        if not Path(root).is_dir():
            raise MissingShardsError(
                f"data root {root} does not exist (task {task!r}, split {split!r}); {FIX_ROOT}"
            )
        found = sorted(p.parent.parent.name for p in Path(root).glob(f"*/{split}/index.json"))
        raise MissingShardsError(
            f"no shards for task {task!r} split {split!r}: {path} missing; tasks with "
            f"split {split!r} under {root}: {', '.join(found) or 'none'}. {FIX_ROOT}"
        )
    return json.loads(path.read_text())


def shard_paths(root: str | os.PathLike, task: str, split: str) -> list[Path | str]:
    """Locations of the shards listed in index.json, in order (Paths under a local root, else URLs)."""
    index = read_index(root, task, split)
    return [join_location(root, task, split, name) for name in index["shards"]]


def iter_shard(location: str | os.PathLike) -> Iterator[dict]:
    """Raw samples of one shard: ``{"__key__", "__shard__", ext: bytes, ...}`` in file order.

    ``location``: a path or a URL (see the module docstring). Members are grouped by key (the name up to its
    first dot). A truncated or unreadable tar (or a failed download) ends the shard with a warning naming it;
    the samples read so far are kept (the last, possibly partial, one is dropped).
    """
    from webdataset.tariterators import tar_file_iterator

    name = str(location if is_url(location) else Path(location))
    current: dict | None = None
    try:
        with _open(location) as stream:
            for member in tar_file_iterator(stream, skip_meta=None):
                key, _, ext = member["fname"].rpartition("/")[2].partition(".")
                if current is not None and current["__key__"] != key:
                    yield current
                    current = None
                if current is None:
                    current = {"__key__": key, "__shard__": name}
                current[ext] = member["data"]
    except (tarfile.TarError, OSError, EOFError) as err:
        warnings.warn(
            f"shard {name}: unreadable after key {current and current['__key__']!r} ({err}); "
            "rest of the shard skipped",
            stacklevel=2,
        )
        return
    if current is not None:
        yield current
