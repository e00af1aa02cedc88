"""Trivial (chance-level) baselines: each task's ``trivial_prediction`` scored with the task's own metric.

Why: a trained model's number means little until it is set against what a model that ignores the media
gets (majority class, whole-clip span, centre box, empty mask). ``crabplus eval-all`` prints this beside
every run, and the synthetic-world acceptance test asks for a clear margin above it.

Only targets are read: ``<key>.json`` of every sample, plus ``<key>.mask.png`` for tasks that carry a mask
(decoded at the size the test loader would give, ``MediaSpec.frame_size``). No video or audio is decoded.

Decision — where the majority comes from: ``Task.trivial_prediction(targets)`` takes only the targets it
predicts for, so the majority label is that of the evaluated split itself (an oracle prior: slightly
optimistic, which makes "beats the trivial baseline" a stricter bar, not a looser one). Taking it from the
train split needs ``Task.trivial_prediction`` to accept reference targets, which the Task API has not.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from crabplus.data.decode import DecodeError
from crabplus.data.sample import decode_mask, mask_target
from crabplus.data.shards import iter_shard, shard_paths

__all__ = ["read_targets", "score_trivial", "trivial_scores", "datamodule_trivial_scores"]


def _task(name: str) -> Any:
    from crabplus import tasks

    return tasks.get(name)


def read_targets(root: str | Path, task: str, split: str, mask_size: int | None = None) -> list[dict]:
    """Structured targets of ``root/task/split`` in shard order, as the test loader builds them.

    A ``mask.png`` member becomes ``target["mask"]`` (bool ``(S, S)``, or class indices for a palette mask;
    ``S = mask_size``, native size when None) and ``meta["video_id"]`` becomes ``target["video"]``. Samples whose json or mask cannot be read are skipped, like the loader skips them, with one
    warning naming the first bad sample.
    """
    targets: list[dict] = []
    bad: list[str] = []
    for path in shard_paths(root, task, split):
        for raw in iter_shard(path):
            try:
                record = json.loads(raw["json"])
                target = dict(record["target"])
                if "mask.png" in raw:
                    meta = record.get("meta") or {}
                    target = mask_target(target, meta, decode_mask(raw["mask.png"], meta, mask_size))
            except (KeyError, ValueError, TypeError, DecodeError) as err:
                bad.append(f"{raw['__shard__']}:{raw['__key__']} ({type(err).__name__}: {err})")
                continue
            targets.append(target)
    if bad:
        warnings.warn(
            f"trivial baseline of {task!r}/{split}: skipped {len(bad)} unreadable sample(s), first {bad[0]}",
            stacklevel=2,
        )
    return targets


def score_trivial(task: Any, targets: list[dict]) -> dict[str, float]:
    """metric → value of ``task.trivial_prediction(targets)`` scored by a fresh ``task.make_metric()``."""
    if not targets:
        raise ValueError(f"trivial baseline of task {task.name!r}: no targets to score")
    metric = task.make_metric()
    metric.update(task.trivial_prediction(targets), targets)
    return {name: float(value) for name, value in metric.compute().items()}


def trivial_scores(
    sources: Iterable[tuple[str, str | Path]],
    split: str,
    mask_size: int | None = None,
    task_lookup: Callable[[str], Any] = _task,
) -> dict[str, dict[str, float]]:
    """task → metric → trivial-baseline value for ``(task, root)`` pairs on ``split``."""
    return {
        name: score_trivial(task_lookup(name), read_targets(root, name, split, mask_size))
        for name, root in sources
    }


def datamodule_trivial_scores(datamodule: Any, split: str = "test") -> dict[str, dict[str, float]]:
    """Trivial baselines of a :class:`~crabplus.data.MultiTaskDataModule`'s evaluated tasks.

    ``split`` is the role (``train``/``val``/``test``) mapped through the data module's split folder names;
    tasks, roots, mask size and task lookup are the data module's own, so the numbers describe exactly the
    samples its test loaders serve.
    """
    folder = datamodule.splits[split]
    sources = [(e.name, datamodule.root_of(e)) for e in datamodule.entries if e.eval]
    return trivial_scores(sources, folder, datamodule.media.frame_size, datamodule.task_lookup)
