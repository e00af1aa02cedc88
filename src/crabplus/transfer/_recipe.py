"""Recipe fingerprints: what makes two runs comparable, as a short stable hash.

A recipe is model preset (+ its overrides and the trainable set) + adapter config +
optimizer (+ scheduler) + training samples per task + data version. The seed is deliberately *not* hashed: runs that differ only by seed share a
fingerprint so reports can average them; the store keys a run by (fingerprint, seed) instead.

Samples per task (the budget a single-task baseline must match):

    per_step  = batch_size · accumulate_grad_batches          (per process; world size is not counted)
    share_t   = w_t / Σ_u w_u                                  (mixture weights from ``data.tasks``)
    samples_t = round(max_steps · per_step · share_t)

A task subset S (one task = a single-task baseline, two = a pairwise run) keeps each member's budget up to
whole optimizer steps: ``max_steps_S = max(1, round(Σ_{t∈S} samples_t / per_step))`` with weights renormalised
over S. :meth:`Recipe.subset` and :func:`crabplus.transfer.derive_subset_config` share this formula, so the
fingerprint of a derived YAML equals the fingerprint predicted from the multitask recipe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Recipe", "fingerprint", "init_args", "recipe_fingerprint", "task_entries"]

_FINGERPRINT_CHARS = 16


def init_args(section: Any) -> dict[str, Any]:
    """LightningCLI sections come flat or as ``{class_path, init_args}``; return the arguments."""
    if not isinstance(section, Mapping):
        return {}
    if "init_args" in section:
        return dict(section.get("init_args") or {})
    return dict(section)


def task_entries(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``data.tasks`` as ``[{name, weight, ...}]`` (plain strings get weight 1)."""
    tasks = data.get("tasks")
    if not tasks:
        raise KeyError("config key 'data.tasks' is missing or empty")
    out = []
    for i, entry in enumerate(tasks):
        item = {"name": entry} if isinstance(entry, str) else dict(entry)
        if "name" not in item:
            raise KeyError(f"config key 'data.tasks[{i}].name' is missing")
        item.setdefault("weight", 1.0)
        out.append(item)
    return out


def _per_step(config: Mapping[str, Any]) -> int:
    data = init_args(config.get("data"))
    trainer = config.get("trainer") or {}
    return int(data.get("batch_size", 1)) * int(trainer.get("accumulate_grad_batches", 1) or 1)


def _max_steps(config: Mapping[str, Any]) -> int:
    steps = (config.get("trainer") or {}).get("max_steps")
    if steps is None or int(steps) <= 0:
        raise KeyError("config key 'trainer.max_steps' must be a positive integer (sample budgets need it)")
    return int(steps)


def subset_steps(samples: Sequence[int], per_step: int) -> int:
    """Optimizer steps that give a task subset its summed sample budget (at least one)."""
    return max(1, round(sum(samples) / per_step))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Recipe:
    """The hashed part of a run's configuration. ``samples`` maps task → training samples."""

    preset: str
    adapter: Any = None
    optimizer: Any = None
    scheduler: Any = None
    samples: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    per_step: int = 1
    data_version: str = "unversioned"
    model_overrides: Any = None
    trainable: Any = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], data_version: str | None = None) -> Recipe:
        """Read a LightningCLI config dict (``model:``, ``data:``, ``trainer:``, optional ``optimizer:``)."""
        model = init_args(config.get("model"))
        data = init_args(config.get("data"))
        if "preset" not in model:
            raise KeyError("config key 'model.preset' is missing")
        entries = task_entries(data)
        total = sum(float(e["weight"]) for e in entries)
        per_step, steps = _per_step(config), _max_steps(config)
        weights = {e["name"]: float(e["weight"]) / total for e in entries}
        samples = {name: round(steps * per_step * share) for name, share in weights.items()}
        version = data_version or data.get("data_version") or data.get("version") or "unversioned"
        return cls(
            preset=str(model["preset"]),
            adapter=model.get("adapter"),
            optimizer=config.get("optimizer") or model.get("optimizer"),
            scheduler=config.get("lr_scheduler") or model.get("scheduler") or model.get("lr_scheduler"),
            samples=samples,
            weights=weights,
            per_step=per_step,
            data_version=str(version),
            model_overrides=model.get("model_overrides") or None,
            trainable=model.get("trainable"),
        )

    @property
    def tasks(self) -> list[str]:
        return list(self.samples)

    @property
    def kind(self) -> str:
        return "single_task" if len(self.samples) == 1 else "multitask"

    def subset(self, tasks: Sequence[str]) -> Recipe:
        """The same recipe on ``tasks`` only, each keeping its sample budget (module docstring)."""
        unknown = [t for t in tasks if t not in self.samples]
        if unknown:
            raise KeyError(f"tasks {unknown} are not in the recipe; valid: {self.tasks}")
        total = sum(self.weights[t] for t in tasks)
        weights = {t: self.weights[t] / total for t in tasks}
        steps = subset_steps([self.samples[t] for t in tasks], self.per_step)
        samples = {t: round(steps * self.per_step * w) for t, w in weights.items()}
        return dataclasses.replace(self, samples=samples, weights=weights)

    def replace(self, **fields: Any) -> Recipe:
        """A copy with ``fields`` changed, e.g. ``recipe.replace(adapter=plain_lora)`` for baselines."""
        return dataclasses.replace(self, **fields)

    def single_task(self, task: str) -> Recipe:
        return self.subset([task])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Recipe:
        return cls(**dict(payload))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self)


def fingerprint(recipe: Recipe) -> str:
    """sha256 of the canonical JSON of the hashed fields, first 16 hex digits.

    Weights and per-step size are left out: what matters for comparability is each task's sample budget.
    The model overrides (e.g. a wider LM) and the trainable set enter the hash only when given, so a config
    without them hashes as it did before these fields existed.
    """
    payload = {
        "preset": recipe.preset,
        "adapter": recipe.adapter,
        "optimizer": recipe.optimizer,
        "scheduler": recipe.scheduler,
        "samples": recipe.samples,
        "data_version": recipe.data_version,
    }
    for key in ("model_overrides", "trainable"):
        value = getattr(recipe, key)
        if value is not None:
            payload[key] = value
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:_FINGERPRINT_CHARS]


def recipe_fingerprint(config: Mapping[str, Any], data_version: str | None = None) -> str:
    """Fingerprint of a LightningCLI config dict (what the CLI can set as ``model.recipe_fingerprint``)."""
    return fingerprint(Recipe.from_config(config, data_version))
