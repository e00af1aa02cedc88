"""Reservoir replay buffer with compact storage, saved in checkpoints.

Reservoir sampling (Vitter's algorithm R): the n-th clip ever offered (1-based) is stored while the
buffer has room; once full it replaces a uniformly chosen slot with probability M/n. Every clip seen
so far is then in the buffer with the same probability M/n — the buffer is a uniform sample of the
stream with no task boundaries (STELLA is task-free).

Storage: fields are allocated on the first `add` with the shapes of that batch. A field may be stored
in a smaller dtype: `torch.uint8` means "values in [0, 1], quantized to 1/255" (video frames), any
float dtype is a plain cast (fp16 for spectrograms). `sample` returns float32 again. Decision: store
uint8 frames and fp16 audio instead of the reference's float32 clips (≈4× / 2× less RAM).

State (`state_dict` / `load_state_dict`): the stored tensors, `num_seen`, and the generator state, so
a resumed run continues the same stream of reservoir decisions.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ReservoirBuffer"]


class ReservoirBuffer:
    """Bounded uniform sample of every clip offered so far.

    Args:
        capacity: M, the maximum number of stored clips.
        storage_dtypes: per-field storage dtype (see module docstring); other fields keep their dtype.
        seed: seed of the buffer's own generator (reservoir decisions and replay draws).
    """

    def __init__(self, capacity: int, storage_dtypes: dict[str, torch.dtype] | None = None, seed: int = 0):
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.storage_dtypes = dict(storage_dtypes or {})
        self.num_seen = 0
        self.fields: dict[str, torch.Tensor] = {}
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return min(self.num_seen, self.capacity)

    def _encode(self, name: str, value: torch.Tensor) -> torch.Tensor:
        dtype = self.storage_dtypes.get(name, value.dtype)
        value = value.detach().cpu()
        if dtype == torch.uint8 and value.is_floating_point():
            return (value.clamp(0, 1) * 255).round().to(torch.uint8)
        return value.to(dtype)

    def _decode(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if self.storage_dtypes.get(name) == torch.uint8:
            return value.float() / 255
        return value.float() if value.is_floating_point() else value

    def _allocate(self, batch: dict[str, torch.Tensor]) -> None:
        for name, value in batch.items():
            enc = self._encode(name, value[:1])
            self.fields[name] = torch.zeros((self.capacity, *enc.shape[1:]), dtype=enc.dtype)

    def slots_for(self, n: int) -> list[int]:
        """Reservoir decisions for the next n clips: a slot index, or −1 for "not stored"."""
        slots = []
        for _ in range(n):
            if self.num_seen < self.capacity:
                slots.append(self.num_seen)
            else:
                j = int(torch.randint(0, self.num_seen + 1, (1,), generator=self.generator))
                slots.append(j if j < self.capacity else -1)
            self.num_seen += 1
        return slots

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        """Offer a batch: every field is (B, ...) with the same B and the same names every call."""
        if not self.fields:
            self._allocate(batch)
        if set(batch) != set(self.fields):
            raise KeyError(f"replay buffer fields are {sorted(self.fields)}, batch has {sorted(batch)}")
        n = next(iter(batch.values())).shape[0]
        for row, slot in enumerate(self.slots_for(n)):
            if slot >= 0:
                for name, value in batch.items():
                    self.fields[name][slot] = self._encode(name, value[row : row + 1])[0]

    def sample(self, n: int, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Draw min(n, len) stored clips uniformly without replacement (float32 fields)."""
        size = len(self)
        if size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = torch.randperm(size, generator=self.generator)[: min(n, size)]
        return {name: self._decode(name, value[idx]).to(device) for name, value in self.fields.items()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: capacity, num_seen, stored fields (only the filled slots), RNG."""
        return {
            "capacity": self.capacity,
            "num_seen": self.num_seen,
            "fields": {k: v[: len(self)].clone() for k, v in self.fields.items()},
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict`; the capacity must match (it sizes the reservoir probabilities)."""
        if state["capacity"] != self.capacity:
            raise ValueError(f"checkpoint buffer capacity {state['capacity']} != configured {self.capacity}")
        self.num_seen = int(state["num_seen"])
        self.fields = {}
        for name, value in state["fields"].items():
            full = torch.zeros((self.capacity, *value.shape[1:]), dtype=value.dtype)
            full[: value.shape[0]] = value
            self.fields[name] = full
        self.generator.set_state(state["generator"])
