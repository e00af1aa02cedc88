"""Writing the synthetic world's task shards from a config (``crabplus data synth``).

Scene indices of a split start at ``SPLIT_OFFSETS[split]`` so train/val/test never share a scene;
each task may override the sample counts and the world's difficulty knobs.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from crabplus.data.shards import ShardWriter
from crabplus.data.synth.families import FAMILIES, REASONING_FAMILIES, make_sample
from crabplus.data.synth.world import SynthWorld, WorldConfig

__all__ = [
    "SynthConfig",
    "load_synth_config",
    "write_synth",
    "write_task_split",
    "SPLIT_OFFSETS",
    "sample_key",
]

SPLIT_OFFSETS = {"train": 0, "val": 1_000_000, "test": 2_000_000}


@dataclass
class SynthConfig:
    """What ``crabplus data synth`` writes.

    Attributes:
        version: data version stored in every index.json.
        maxcount: samples per shard.
        world: ``WorldConfig`` fields shared by all tasks.
        splits: samples per split.
        tasks: ``{task: {"splits": {...}, "world": {...}, "reasoning": bool}}`` per-task overrides (empty
            dict = defaults); ``reasoning: true`` writes the family's reasoning text (the answer's
            ``<think>`` part) into the shards, for the families in ``REASONING_FAMILIES``.
    """

    version: str = "1"
    maxcount: int = 64
    world: dict = field(default_factory=dict)
    splits: dict = field(default_factory=lambda: {"train": 200, "val": 40, "test": 40})
    tasks: dict = field(default_factory=lambda: {t: {} for t in FAMILIES})

    def world_config(self, task: str) -> WorldConfig:
        merged = {**self.world, **(self.tasks.get(task) or {}).get("world", {})}
        unknown = set(merged) - {f.name for f in dataclasses.fields(WorldConfig)}
        if unknown:
            raise KeyError(f"synth config: unknown world key(s) {sorted(unknown)} for task {task!r}")
        for key in ("role_probs", "object_scale"):  # YAML lists -> the dataclass's tuples
            if key in merged:
                merged[key] = tuple(merged[key])
        return WorldConfig(**merged)

    def reasoning(self, task: str) -> bool:
        return bool((self.tasks.get(task) or {}).get("reasoning", False))

    def count(self, task: str, split: str) -> int:
        return int({**self.splits, **(self.tasks.get(task) or {}).get("splits", {})}.get(split, 0))


def load_synth_config(path: str | Path | None = None, overrides: list[str] | None = None) -> SynthConfig:
    """Config from YAML plus omegaconf dotlist ``overrides``; unknown tasks or keys raise naming them."""
    base = OmegaConf.structured(SynthConfig)
    base.tasks = {}
    cfg = OmegaConf.merge(base, OmegaConf.load(path) if path else OmegaConf.create({}))
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    out = SynthConfig(**OmegaConf.to_container(cfg, resolve=True))
    if not out.tasks:
        out.tasks = {t: {} for t in FAMILIES}
    for task in out.tasks:
        if task not in FAMILIES:
            raise KeyError(
                f"synth config: tasks.{task} is not a synthetic task; valid: {', '.join(FAMILIES)}"
            )
        if out.reasoning(task) and task not in REASONING_FAMILIES:
            raise KeyError(
                f"synth config: tasks.{task}.reasoning is set but {task} has no reasoning text; "
                f"families with one: {', '.join(sorted(REASONING_FAMILIES))}"
            )
    for split in out.splits:
        if split not in SPLIT_OFFSETS:
            raise KeyError(f"synth config: splits.{split} unknown; valid: {', '.join(SPLIT_OFFSETS)}")
    return out


def sample_key(task: str, split: str, i: int) -> str:
    return f"{task}-{split}-{i:06d}"


def write_task_split(out: str | Path, config: SynthConfig, task: str, split: str) -> int:
    """Write one task/split folder; returns the number of samples written (a target out of its sample's
    range is not written: counted as ``bad_target`` in index.json and warned about)."""
    world = SynthWorld(config.world_config(task))
    n = config.count(task, split)
    with ShardWriter(out, task, split, maxcount=config.maxcount, version=config.version) as writer:
        for i in range(n):
            s = make_sample(task, world, SPLIT_OFFSETS[split] + i)
            reasoning = s.reasoning if config.reasoning(task) else None
            writer.write(sample_key(task, split, i), s.meta, s.target, s.media, reasoning=reasoning)
    for key, reason in writer.bad_targets:
        warnings.warn(f"{task}/{split}: sample {key!r} not written, bad_target: {reason}", stacklevel=2)
    return n - len(writer.bad_targets)


def write_synth(
    out: str | Path, config: SynthConfig, splits: list[str] | None = None, workers: int = 1, log=print
) -> dict[str, dict[str, int]]:
    """Write every configured task and split; ``workers`` > 1 writes task/splits in parallel processes."""
    for split in splits or []:
        if split not in SPLIT_OFFSETS:
            raise KeyError(f"--split {split!r} unknown; valid: {', '.join(SPLIT_OFFSETS)}")
    jobs = [(t, s) for t in config.tasks for s in (splits or list(config.splits)) if config.count(t, s) > 0]
    start = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            futures = {job: pool.submit(write_task_split, out, config, *job) for job in jobs}
            results = {job: f.result() for job, f in futures.items()}
    else:
        results = {job: write_task_split(out, config, *job) for job in jobs}
    for (task, split), n in results.items():
        counts.setdefault(task, {})[split] = n
        log(f"{task}/{split}: {n} samples")
    log(f"wrote {sum(results.values())} samples to {out} in {time.perf_counter() - start:.1f} s")
    return counts
