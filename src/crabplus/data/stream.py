"""One task's infinite stream of raw samples for one loader slot (rank x worker residue).

Splitting: a task's shards are dealt to ``num_slots`` slots (``rank * num_workers + residue``); a task
with fewer shards than slots is split by sample instead (every slot reads every shard and keeps samples
``j % num_slots == slot``), so no slot is ever empty. Each round over the
shards uses a fresh seeded shard order; a seeded shuffle buffer mixes samples.

Resumability: the stream is a pure function of ``(seed, slot, num_slots, shards)``, so its state is the
number of raw samples it has yielded (``position``); ``skip_to(p)`` replays that many without decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from crabplus.data.shards import iter_shard
from crabplus.errors import CrabplusError

__all__ = ["TaskStream", "EmptyStreamError", "slot_samples"]


class EmptyStreamError(CrabplusError, RuntimeError):
    """A task stream produced no sample in a whole round over its shards."""


def slot_samples(shards: list[Path], order, slot: int, num_slots: int) -> Iterator[dict]:
    """Raw samples of one round that belong to ``slot`` (shard split, or sample split if too few shards)."""
    if len(shards) >= num_slots:
        for i in list(order)[slot::num_slots]:
            yield from iter_shard(shards[i])
        return
    j = 0
    for i in order:
        for raw in iter_shard(shards[i]):
            if j % num_slots == slot:
                yield raw
            j += 1


class TaskStream:
    """Infinite, shuffled, resumable raw-sample stream of one task for one slot."""

    def __init__(
        self, task: str, shards: list[Path], seed: int, slot: int, num_slots: int, buffer_size: int = 64
    ):
        if not shards:
            raise EmptyStreamError(f"task {task!r} has no shards")
        self.task, self.shards, self.seed = task, list(shards), int(seed)
        self.slot, self.num_slots, self.buffer_size = int(slot), int(num_slots), max(1, int(buffer_size))
        self.position = 0
        self._it = self._shuffled()

    def _rounds(self) -> Iterator[dict]:
        round_idx = 0
        while True:
            order = np.random.default_rng([self.seed, round_idx, 17]).permutation(len(self.shards))
            count = 0
            for raw in slot_samples(self.shards, order, self.slot, self.num_slots):
                count += 1
                yield raw
            if count == 0:
                raise EmptyStreamError(
                    f"task {self.task!r}: slot {self.slot}/{self.num_slots} read no sample from "
                    f"{len(self.shards)} shard(s) (first: {self.shards[0]})"
                )
            round_idx += 1

    def _shuffled(self) -> Iterator[dict]:
        rng = np.random.default_rng([self.seed, self.slot, self.num_slots, 23])
        buf: list[dict] = []
        for raw in self._rounds():
            if len(buf) < self.buffer_size:
                buf.append(raw)
                continue
            i = int(rng.integers(self.buffer_size))
            out, buf[i] = buf[i], raw
            yield out

    def next(self) -> dict:
        """Next raw sample (bytes per extension plus ``__key__``, ``__shard__``)."""
        raw = next(self._it)
        self.position += 1
        return raw

    def skip_to(self, position: int) -> None:
        """Advance (without decoding) until ``position`` samples have been yielded."""
        while self.position < position:
            self.next()
