"""``task``: MOELoRA-style routing by task id: every token of a sample uses its task's row of a table.

    g(x) = softmax(T[task(x)])        T (num_tasks, K) ``lora_task_route`` per layer and projection

Task ids come from :func:`crabplus.lora.routing_inputs`; encoders that fold frames into the batch map
each row to its sample (sample-major).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora.gates._base import Gate
from crabplus.lora.gates._registry import register_gate

__all__ = ["TaskGate"]


@register_gate("task")
class TaskGate(Gate):
    """Per-task routing. T starts U(±1): with zeros every task would see the uniform gate, every B_i
    would get the same gradient and the K heads would stay identical forever."""

    modules = ("lora_task_route",)

    def __init__(self, config) -> None:
        super().__init__(config)
        self.num_tasks = config.num_tasks

    @classmethod
    def check(cls, config) -> tuple[str, str] | None:
        if config.num_tasks < 1:
            return "num_tasks", "must be >= 1 when routing='task'"
        return None

    def build(self, d_in: int, factory: dict) -> dict[str, nn.Module]:
        return {"lora_task_route": nn.Embedding(self.num_tasks, self.heads, **factory)}

    def reset(self, layer: nn.Module) -> None:
        nn.init.uniform_(layer.lora_task_route.weight, -1.0, 1.0)

    def _rows(self, layer: nn.Module, lead: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
        """(table T (num_tasks, K), task id per token (N,)), ids checked against the table."""
        table = layer.lora_task_route.weight
        ids = self.token_task_ids(lead, table.device)
        if ids.numel() and int(ids.max()) >= table.shape[0]:
            raise ValueError(f"task id {int(ids.max())} >= ILoRAConfig.num_tasks={table.shape[0]}")
        return table, ids

    def gate(
        self, layer: nn.Module, logits: torch.Tensor | None, lead: torch.Size
    ) -> tuple[torch.Tensor, torch.Tensor]:
        table, ids = self._rows(layer, lead)
        gate = F.softmax(table.float(), dim=-1)[ids]  # (N, K)
        return gate, gate

    def reference(self, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lead = x.shape[:-1]
        table, ids = self._rows(layer, lead)
        gate = F.softmax(table[ids].float(), dim=-1).view(*lead, -1)  # (..., K) softmax of the task's row
        return gate, gate
