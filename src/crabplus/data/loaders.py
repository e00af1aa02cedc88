"""Iterable datasets that yield whole, collated batches: the training mixture and per-task eval streams.

Training: worker ``w`` of ``nw`` builds global batches ``b = start + w + k * nw``. torch's DataLoader
returns the results of its workers round-robin, so the loader yields ``start, start + 1, ...`` in order
whatever ``nw`` is. Each rank reads its tasks through ``S`` stream slots (``stream_slots``; batch ``b`` draws
from slot ``c = b % S``), keyed by the residue, not by the worker: with ``nw`` dividing ``S``, worker ``w``
owns the slots ``c ≡ start + w (mod nw)``, so the batches are the same for every such ``nw`` (0, 1 or ``S`` workers
give bit-identical training) and a resumed run with another ``start`` gives the same streams the same
batches.
Each batch carries ``batch_index``, ``stream_state`` (stream positions after it) and ``skipped``
(samples skipped while building it) so the main process can checkpoint and count (DataModule hooks).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch.utils.data import IterableDataset, get_worker_info

from crabplus.data.batch import Batch, media_keys_of
from crabplus.data.cache import DecodedCache
from crabplus.data.mixture import Mixture
from crabplus.data.sample import BadSample, MediaSpec, decode_sample
from crabplus.data.stream import TaskStream, slot_samples
from crabplus.errors import CrabplusError

__all__ = ["TaskSource", "SkipPolicy", "SkipLimitError", "TrainMixtureDataset", "EvalTaskDataset", "collate"]


@dataclass(frozen=True)
class TaskSource:
    """One task's shards and the batch media keys its samples produce."""

    name: str
    shards: tuple
    modalities: tuple[str, ...]


class SkipLimitError(CrabplusError, RuntimeError):
    """Too many samples of one stream could not be used: the data is broken, stop the run."""


@dataclass
class SkipPolicy:
    """Skip bookkeeping of one worker; raises once a stream's skip share exceeds ``max_share``.

    Attributes:
        max_share: largest tolerated share of skipped samples per stream.
        min_samples: samples a stream must have seen before the share is judged.
    """

    max_share: float = 0.1
    min_samples: int = 20
    seen: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)

    def ok(self, task: str) -> None:
        self.seen[task] = self.seen.get(task, 0) + 1

    def skip(
        self,
        task: str,
        raw: dict,
        reason: str,
        delta: dict,
        kind: str = "bad_media",
        by_kind: dict | None = None,
    ) -> None:
        """Count one skipped sample in ``delta`` (per task) and ``by_kind`` (per ``"<task>/<kind>"``)."""
        self.seen[task] = self.seen.get(task, 0) + 1
        self.skipped[task] = self.skipped.get(task, 0) + 1
        delta[task] = delta.get(task, 0) + 1
        if by_kind is not None:
            by_kind[f"{task}/{kind}"] = by_kind.get(f"{task}/{kind}", 0) + 1
        where = f"shard {raw.get('__shard__')} key {raw.get('__key__')!r}"
        warnings.warn(f"skipping sample of task {task!r} ({where}): {reason}", stacklevel=2)
        n, k = self.seen[task], self.skipped[task]
        if n >= self.min_samples and k / n > self.max_share:
            raise SkipLimitError(
                f"task {task!r}: {k} of {n} samples skipped ({k / n:.0%} > data.init_args.max_skip_share="
                f"{self.max_share:.0%}); last: {where}: {reason}. Rebuild or remove the bad shards, or raise "
                "data.init_args.max_skip_share"
            )


def collate(samples: list[dict]) -> Batch:
    """Stack media (all samples share the same media keys) and list everything else."""
    keys = media_keys_of(samples[0])
    for s in samples:
        if media_keys_of(s) != keys:
            raise ValueError(
                f"batch is not modality-homogeneous: {s['key']} has {media_keys_of(s)}, expected {keys}"
            )
    batch: Batch = {
        name: [s[name] for s in samples] for name in ("task", "key", "prompt", "answer", "target", "meta")
    }
    batch["task_id"] = torch.tensor([s["task_id"] for s in samples], dtype=torch.long)  # (B,)
    for k in keys:
        batch[k] = torch.stack([s[k] for s in samples])  # (B, ...)
    return batch


def _worker() -> tuple[int, int]:
    info = get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


class TrainMixtureDataset(IterableDataset):
    """Infinite stream (or epochs of ``epoch_batches``) of mixed, modality-homogeneous training batches.

    ``start`` and ``positions`` (``{residue: {task: position}}``) are kept current by the DataModule as
    batches are consumed; workers fork with the values current at ``iter`` time. An epoch ends at the
    next multiple of ``epoch_batches``, so a run resumed mid-epoch finishes that epoch.
    """

    def __init__(
        self,
        sources: list[TaskSource],
        mixture: Mixture,
        spec: MediaSpec,
        batch_size: int,
        task_lookup: Callable,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        buffer_size: int = 64,
        skip: SkipPolicy | None = None,
        epoch_batches: int | None = None,
        cache_size: int = 0,
        stream_slots: int = 1,
    ):
        if stream_slots < 1:
            raise ValueError(f"data.stream_slots must be >= 1, got {stream_slots}")
        self.cache_size, self.stream_slots = cache_size, stream_slots
        self.sources, self.mixture, self.spec, self.batch_size = sources, mixture, spec, batch_size
        self.task_lookup, self.rank, self.world_size, self.seed = task_lookup, rank, world_size, seed
        self.buffer_size, self.skip_policy, self.epoch_batches = (
            buffer_size,
            skip or SkipPolicy(),
            epoch_batches,
        )
        self.start = 0
        self.positions: dict[int, dict[str, int]] = {}

    def __len__(self) -> int:
        if self.epoch_batches is None:
            raise TypeError("infinite training stream has no length (set data.num_batches for epochs)")
        return self.epoch_batches

    def _streams(self, residue: int) -> list[TaskStream]:
        nw = self.stream_slots
        slot, num_slots = self.rank * nw + residue, self.world_size * nw
        streams = []
        for tid, src in enumerate(self.sources):
            stream = TaskStream(
                src.name, list(src.shards), self.seed * 1_000_003 + tid, slot, num_slots, self.buffer_size
            )
            stream.skip_to(self.positions.get(residue, {}).get(src.name, 0))
            streams.append(stream)
        return streams

    def __iter__(self) -> Iterator[Batch]:
        w, nw = _worker()
        first = self.start + w
        end = (
            None
            if self.epoch_batches is None
            else (self.start // self.epoch_batches + 1) * self.epoch_batches
        )
        slots = self.stream_slots
        if slots % nw:
            raise ValueError(
                f"data.num_workers={nw} must divide data.stream_slots={slots} (each worker owns whole slots)"
            )
        owned = range(first % nw, slots, nw) if end is None or first < end else range(0)
        streams = {c: self._streams(c) for c in owned}
        skip = SkipPolicy(self.skip_policy.max_share, self.skip_policy.min_samples)
        cache = DecodedCache(self.cache_size)  # one per worker process (see data/cache.py)
        b = first
        while end is None or b < end:
            yield self._batch(b, streams[b % slots], skip, b % slots, cache)
            b += nw

    def _batch(
        self, b: int, streams: list[TaskStream], skip: SkipPolicy, residue: int, cache: DecodedCache
    ) -> Batch:
        delta: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        samples = []
        for tid in self.mixture.slot_tasks(b, self.rank, self.batch_size):
            src, stream = self.sources[tid], streams[tid]
            while True:
                raw = stream.next()
                try:
                    sample = cache.get_or_decode(
                        raw,
                        lambda r, s=src: decode_sample(r, s.name, s.modalities, self.spec, self.task_lookup),
                    )
                except BadSample as err:
                    skip.skip(src.name, raw, str(err), delta, err.kind, by_kind)
                    continue
                skip.ok(src.name)
                sample["task_id"] = tid
                samples.append(sample)
                break
        batch = collate(samples)
        batch["batch_index"] = b
        batch["stream_state"] = {"residue": residue, "positions": {s.task: s.position for s in streams}}
        batch["skipped"] = delta
        batch["skipped_by_kind"] = by_kind
        return batch


class EvalTaskDataset(IterableDataset):
    """One pass over one task's split, in shard order, split over ranks; batches of one task.

    Batch ``j`` of a rank is its samples ``[j·B, (j+1)·B)``; worker ``w`` of ``nw`` builds the batches
    ``j ≡ w (mod nw)`` (reading past the others' samples without decoding them), so the loader yields the same
    batches in the same order whatever ``num_workers`` is: evaluation scores are bit-reproducible too.
    """

    def __init__(
        self,
        source: TaskSource,
        task_id: int,
        spec: MediaSpec,
        batch_size: int,
        task_lookup: Callable,
        rank: int = 0,
        world_size: int = 1,
        skip: SkipPolicy | None = None,
    ):
        self.source, self.task_id, self.spec, self.batch_size = source, task_id, spec, batch_size
        self.task_lookup, self.rank, self.world_size = task_lookup, rank, world_size
        self.skip_policy = skip or SkipPolicy()

    def __iter__(self) -> Iterator[Batch]:
        w, nw = _worker()
        skip = SkipPolicy(self.skip_policy.max_share, self.skip_policy.min_samples)
        samples, delta, by_kind = [], {}, {}
        shards = list(self.source.shards)
        for i, raw in enumerate(slot_samples(shards, range(len(shards)), self.rank, self.world_size)):
            if (i // self.batch_size) % nw != w:
                continue
            try:
                sample = decode_sample(
                    raw, self.source.name, self.source.modalities, self.spec, self.task_lookup
                )
                skip.ok(self.source.name)
                sample["task_id"] = self.task_id
                samples.append(sample)
            except BadSample as err:
                skip.skip(self.source.name, raw, str(err), delta, err.kind, by_kind)
            # the batch's last raw sample (a batch of bad samples only yields nothing; its skips ride along)
            if i % self.batch_size == self.batch_size - 1 and samples:
                yield {**collate(samples), "skipped": delta, "skipped_by_kind": by_kind}
                samples, delta, by_kind = [], {}, {}
        if samples:
            yield {**collate(samples), "skipped": delta, "skipped_by_kind": by_kind}
