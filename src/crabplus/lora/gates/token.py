"""``token``: Crab's router (HydraLoRA): a dense softmax over the K heads of each token's own logits.

    g(x) = softmax(x W_rᵀ)        W_r (K, d_in) ``lora_route``, no bias, per layer and projection

No task id, no top-k, no noise. The router reads the un-dropped input x.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora.gates._base import Gate
from crabplus.lora.gates._registry import register_gate

__all__ = ["TokenGate"]


@register_gate("token")
class TokenGate(Gate):
    """Per-token dense routing; W_r starts U(±1/√d_in) (kaiming_uniform a=√5, as Crab)."""

    modules = ("lora_route",)
    plain_softmax = True

    def build(self, d_in: int, factory: dict) -> dict[str, nn.Module]:
        return {"lora_route": nn.Linear(d_in, self.heads, bias=False, **factory)}

    def reset(self, layer: nn.Module) -> None:
        nn.init.kaiming_uniform_(layer.lora_route.weight, a=math.sqrt(5))

    def router(self, layer: nn.Module) -> torch.Tensor:
        return layer.lora_route.weight

    def gate(
        self, layer: nn.Module, logits: torch.Tensor | None, lead: torch.Size
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert logits is not None
        probs = F.softmax(logits.float(), dim=-1)  # (N, K), fp32 as Crab
        return probs, probs

    def reference(self, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = F.linear(x, layer.lora_route.weight)  # (..., K) = x W_rᵀ
        probs = F.softmax(logits.float(), dim=-1)
        return probs, probs
