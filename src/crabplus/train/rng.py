"""Capture and restore every RNG a training step touches, for exact resume.

Lightning restores model, optimizer, scheduler and loop counters but not the process RNGs, so a resumed
run draws different dropout masks than the uninterrupted one. The module stores these states in its
checkpoint; DataLoader workers need none because the data streams are pure functions of (seed, index).

Two details decide whether a resume is bitwise exact:

* **When to restore.** Lightning calls ``on_load_checkpoint`` before it builds the training DataLoader
  iterator, and building an iterator draws a base seed from the global torch RNG. The uninterrupted run
  drew that seed long before the checkpoint was written, so restoring in ``on_load_checkpoint`` leaves the
  resumed run one draw ahead. :class:`DeferredRNGRestore` holds the state until the first training batch.
* **Evaluation draws nothing.** A validation inside ``fit`` builds DataLoader iterators (base-seed draws)
  and may sample; the module captures the training state before it and restores it after
  (``AVLLMModule.on_validation_end``), so a run with validation trains exactly as one without, and a
  checkpoint written at a validation step (after it, ``ValidationStepCheckpoint``) holds the training state.
* **Whose state.** Under DDP every rank has its own RNG history (its batches differ, so its dropout
  draws differ), but only rank 0 writes the checkpoint. :func:`gather_rng_states` collects every rank's
  state into the checkpoint; :func:`state_for_rank` picks this rank's on resume.
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "DeferredRNGRestore",
    "capture_rng_state",
    "gather_rng_states",
    "restore_rng_state",
    "state_for_rank",
]


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and, when present, CUDA) RNG states as checkpoint-safe values."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": list(random.getstate()[1]) + [random.getstate()[2]],
        "python_version": random.getstate()[0],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    py = state["python"]
    random.setstate((state["python_version"], tuple(int(v) for v in py[:-1]), py[-1]))
    keys = state["numpy"]["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy"]["pos"], 0, 0.0))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def gather_rng_states(local: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every rank's :func:`capture_rng_state` (or its ``local`` state), indexed by global rank (one entry
    without a process group).

    A collective: call it on every rank at the same point (Lightning builds the checkpoint dict on every
    rank, so ``on_save_checkpoint`` qualifies). CUDA states travel as CPU tensors.
    """
    local = capture_rng_state() if local is None else local
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [local]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, local)
    return [_to_cpu(state) for state in gathered]


def _to_cpu(state: dict[str, Any]) -> dict[str, Any]:
    """RNG states are byte tensors; keep them on the CPU so the checkpoint loads anywhere."""
    out = dict(state)
    out["torch"] = state["torch"].cpu()
    if "cuda" in state:
        out["cuda"] = [s.cpu() for s in state["cuda"]]
    return out


def state_for_rank(saved: dict[str, Any] | list[dict[str, Any]], rank: int) -> dict[str, Any]:
    """This rank's state from a checkpoint's ``rng`` entry (a per-rank list, or one dict from old runs).

    A resume on a different world size cannot be exact anyway (the data split changes too); it gets rank
    ``rank % saved_ranks``'s state and a warning, instead of failing.
    """
    if isinstance(saved, dict):
        return saved
    if rank >= len(saved):
        warnings.warn(
            f"checkpoint holds RNG states of {len(saved)} ranks, this is rank {rank}: the resume is not exact",
            stacklevel=2,
        )
    return saved[rank % len(saved)]


class DeferredRNGRestore:
    """Holds a checkpoint's RNG state until the first training batch after a resume.

    ``stash`` in ``on_load_checkpoint``; ``apply`` at every ``on_train_batch_start`` (a no-op unless a
    state is pending). See the module docstring for why the restore waits.
    """

    def __init__(self) -> None:
        self.pending: dict[str, Any] | None = None

    def stash(self, saved: dict[str, Any] | list[dict[str, Any]], rank: int) -> None:
        self.pending = state_for_rank(saved, rank)

    def apply(self) -> bool:
        """Restore the pending state, if any; True when one was restored."""
        if self.pending is None:
            return False
        restore_rng_state(self.pending)
        self.pending = None
        return True
