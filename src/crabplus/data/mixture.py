"""The task mixture: which modality group each global batch uses and which task fills each slot.

Both are pure functions of ``(seed, batch_index)`` (and the rank for the slots), never of the worker or
of what was decoded, so (1) every DDP rank picks the same modality group for batch ``b`` and no rank
skips a collective, and (2) resuming needs no RNG state, only the batch index.

Two-stage sampling keeps the per-sample task frequencies equal to the weights:
``P(group g) = sum_{t in g} w_t`` per batch, then ``P(task t | g) = w_t / P(g)`` per slot.
Weights are given per task, or by temperature over dataset sizes: ``w_t ∝ n_t ** (1 / T)``
(T = 1 proportional, T -> inf uniform).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Mixture", "mixture_weights"]


def mixture_weights(
    sizes: dict[str, int], weights: dict[str, float | None], temperature: float | None
) -> dict[str, float]:
    """Normalised weights: explicit ``weights`` (missing ones = 1), or temperature over ``sizes``."""
    if temperature is not None:
        if temperature <= 0:
            raise ValueError(f"data temperature must be > 0, got {temperature}")
        raw = {t: float(n) ** (1.0 / temperature) for t, n in sizes.items()}
    else:
        raw = {t: 1.0 if weights.get(t) is None else float(weights[t]) for t in sizes}
    for t, w in raw.items():
        if w < 0 or not np.isfinite(w):
            raise ValueError(f"data.tasks[{t}].weight must be finite and >= 0, got {w}")
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("data task weights sum to 0")
    return {t: w / total for t, w in raw.items()}


@dataclass(frozen=True)
class Mixture:
    """Deterministic schedule of groups and tasks.

    Attributes:
        tasks: task names in train order (index = task_id).
        weights: per-task probability (same order, sums to 1).
        groups: ``{group name: [task_id, ...]}``; a group name is its modality keys joined by '+'.
        seed: mixture seed.
    """

    tasks: tuple[str, ...]
    weights: tuple[float, ...]
    groups: dict[str, tuple[int, ...]]
    seed: int = 0

    @classmethod
    def build(
        cls, task_modalities: dict[str, tuple[str, ...]], weights: dict[str, float], seed: int = 0
    ) -> Mixture:
        tasks = tuple(task_modalities)
        groups: dict[str, list[int]] = {}
        for tid, task in enumerate(tasks):
            groups.setdefault("+".join(task_modalities[task]) or "text", []).append(tid)
        return cls(
            tasks, tuple(weights[t] for t in tasks), {g: tuple(v) for g, v in sorted(groups.items())}, seed
        )

    def group_probs(self) -> dict[str, float]:
        return {g: sum(self.weights[t] for t in tids) for g, tids in self.groups.items()}

    def group_of(self, batch_index: int) -> str:
        """Modality group of global batch ``batch_index`` (identical on every rank)."""
        names = list(self.groups)
        probs = np.array([self.group_probs()[g] for g in names])
        rng = np.random.default_rng([self.seed, int(batch_index), 7])
        return names[int(rng.choice(len(names), p=probs / probs.sum()))]

    def slot_tasks(self, batch_index: int, rank: int, batch_size: int) -> list[int]:
        """task_id of each of this rank's ``batch_size`` slots of batch ``batch_index``."""
        tids = self.groups[self.group_of(batch_index)]
        probs = np.array([self.weights[t] for t in tids])
        rng = np.random.default_rng([self.seed, int(batch_index), int(rank), 11])
        return [tids[int(i)] for i in rng.choice(len(tids), size=batch_size, p=probs / probs.sum())]
