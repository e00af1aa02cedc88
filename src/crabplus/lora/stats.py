"""``RoutingStats``: cheap per-layer routing statistics, split by task and token modality.

While attached, every I-LoRA layer with K > 1 hands its gate (N, K) to :meth:`RoutingStats.observe`,
which adds it into on-device sums indexed by (task, modality) with ``index_add_`` (no host sync, no
per-token storage). Task ids come from :func:`crabplus.lora.routing_inputs`; token modalities from its
``modality_ids`` when they align with the layer's tokens (LM layers), or from the layer's group for
encoder layers (``audio_encoder`` -> audio, ``vision_encoder`` -> video). Tokens with a negative
modality id (e.g. padding marked -1 by the model) are not counted; anything else unmatched goes to the
``unknown`` slot.

Records (``records()``), one row per (layer, task, modality, head)::

    layer, group, task, modality, head, mean_gate, entropy, tokens

``mean_gate`` = mean over the tokens of g_head; ``entropy`` = mean token gate entropy (nats), repeated on
every head row; ``group`` = layer name with layer indices replaced by ``*`` (the heatmap unit).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn as nn

from crabplus.lora._context import current_routing_inputs
from crabplus.lora._gate_math import gate_entropy, rows_to_tokens
from crabplus.lora.inject import ilora_layers

__all__ = ["RoutingStats", "MODALITY_NAMES", "layer_group"]

MODALITY_NAMES: tuple[str, ...] = ("text", "video", "audio", "image")
_ENCODER_MODALITY = {"audio": 2, "vision": 1, "video": 1, "image": 3}


def layer_group(name: str) -> str:
    """``language_model.model.layers.3.self_attn.q_proj`` -> ``language_model.model.layers.*.self_attn.q_proj``."""
    return re.sub(r"(^|\.)\d+(?=\.|$)", r"\1*", name)


class RoutingStats:
    """Accumulates gate sums, entropy sums and token counts per layer × task × modality.

    Args:
        task_names: names of task ids 0…T-1 (ids outside go to ``unknown``).
    """

    def __init__(self, task_names: Sequence[str] = ()) -> None:
        self.task_names = list(task_names)
        self.modality_names = list(MODALITY_NAMES)
        self._names: dict[int, str] = {}
        self._layers: list[nn.Module] = []
        self._gate: dict[str, torch.Tensor] = {}  # (T+1, M+1, K)
        self._ent: dict[str, torch.Tensor] = {}  # (T+1, M+1)
        self._count: dict[str, torch.Tensor] = {}  # (T+1, M+1)

    @property
    def shape(self) -> tuple[int, int]:
        """(task slots, modality slots), each including the trailing ``unknown`` slot."""
        return len(self.task_names) + 1, len(self.modality_names) + 1

    # ----- attaching ------------------------------------------------------------------------------------
    def attach(self, model: nn.Module) -> RoutingStats:
        """Start collecting from every routed layer (K > 1) of ``model``."""
        for name, layer in ilora_layers(model):
            if layer.heads > 1:
                layer.collector = self
                self._names[id(layer)] = name
                self._layers.append(layer)
                if name not in self._gate:  # allocated up front: every rank holds the same tensors
                    self._allocate(name, layer.heads, layer.weight.device)
        return self

    def _allocate(self, name: str, heads: int, device: torch.device) -> None:
        tasks, mods = self.shape
        kw = {"dtype": torch.float64, "device": device}
        self._gate[name] = torch.zeros(tasks, mods, heads, **kw)
        self._ent[name] = torch.zeros(tasks, mods, **kw)
        self._count[name] = torch.zeros(tasks, mods, **kw)

    def detach(self) -> None:
        """Stop collecting (the accumulated sums stay)."""
        for layer in self._layers:
            layer.collector = None
        self._layers, self._names = [], {}

    @contextlib.contextmanager
    def collect(self, model: nn.Module) -> Iterator[RoutingStats]:
        """``with stats.collect(model): model(...)`` — attach for the block."""
        self.attach(model)
        try:
            yield self
        finally:
            self.detach()

    # ----- observing ------------------------------------------------------------------------------------
    def _slots(
        self, layer: nn.Module, lead: torch.Size, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token task slot and modality slot (N,) long; modality -1 = do not count."""
        n_tok = int(lead.numel())
        tasks, mods = self.shape
        ctx = current_routing_inputs()
        task = torch.full((n_tok,), tasks - 1, dtype=torch.long, device=device)
        if (
            ctx is not None
            and ctx.task_ids is not None
            and len(lead)
            and lead[0] % ctx.task_ids.shape[0] == 0
        ):
            ids = rows_to_tokens(ctx.task_ids.to(device), lead)
            task = torch.where((ids >= 0) & (ids < tasks - 1), ids, task)
        group = getattr(layer, "group", "llm")
        fixed = (
            next((m for key, m in _ENCODER_MODALITY.items() if key in group), None)
            if group != "llm"
            else None
        )
        if fixed is not None:
            return task, torch.full((n_tok,), fixed, dtype=torch.long, device=device)
        if ctx is not None and ctx.modality_ids is not None and tuple(ctx.modality_ids.shape) == tuple(lead):
            ids = ctx.modality_ids.to(device).reshape(-1).long()
            return task, torch.where(ids >= mods - 1, torch.full_like(ids, mods - 1), ids)
        return task, torch.full((n_tok,), mods - 1, dtype=torch.long, device=device)

    @torch.no_grad()
    def observe(self, layer: nn.Module, gate: torch.Tensor, lead: torch.Size) -> None:
        """Add one forward's gate (N, K) of ``layer`` (called by the layer)."""
        name = self._names[id(layer)]
        tasks, mods = self.shape
        heads = gate.shape[-1]
        task, mod = self._slots(layer, lead, gate.device)
        keep = mod >= 0
        key = (task * mods + mod)[keep]  # (N',)
        g = gate.reshape(-1, heads)[keep].double()  # (N', K)
        self._gate[name].view(-1, heads).index_add_(0, key, g)
        self._ent[name].view(-1).index_add_(0, key, gate_entropy(g).double())
        self._count[name].view(-1).index_add_(0, key, torch.ones_like(key, dtype=torch.float64))

    # ----- reduction and output ---------------------------------------------------------------------------
    def reduce(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Apply an in-place-style sum reduction (e.g. DDP all-reduce) to all sums in one flat tensor.

        Every rank must have observed the same layers (true when all ranks run validation)."""
        names = sorted(self._gate)
        if not names:
            return
        parts = [t for n in names for t in (self._gate[n], self._ent[n], self._count[n])]
        flat = fn(torch.cat([p.reshape(-1) for p in parts]))
        offset = 0
        for p in parts:
            p.copy_(flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()

    def records(self) -> list[dict]:
        """Long-format rows (see module docstring); only (task, modality) cells with tokens.

        Heads are listed per layer, so layers may have different K."""
        tasks = self.task_names + ["unknown"]
        mods = self.modality_names + ["unknown"]
        rows: list[dict] = []
        for name in sorted(self._gate):
            gate, ent, count = (t.cpu() for t in (self._gate[name], self._ent[name], self._count[name]))
            for t, m in (count > 0).nonzero().tolist():
                n = float(count[t, m])
                for h in range(gate.shape[-1]):
                    rows.append({
                        "layer": name, "group": layer_group(name), "task": tasks[t], "modality": mods[m],
                        "head": h, "mean_gate": float(gate[t, m, h]) / n, "entropy": float(ent[t, m]) / n,
                        "tokens": int(n),
                    })  # fmt: skip
        return rows

    def reset(self) -> None:
        """Drop the accumulated sums."""
        self._gate, self._ent, self._count = {}, {}, {}
