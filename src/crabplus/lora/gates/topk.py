"""``topk``: Crab's router logits, only the ``top_k`` largest kept per token and re-normalised.

    g(x)_i = exp(l_i) / Σ_{j ∈ top_k(l)} exp(l_j)  for i ∈ top_k(l), else 0,      l = x W_rᵀ

The balance loss reads the dense softmax(l) (the sparse gate has no gradient for unchosen heads).
Every head stays in the autograd graph through the fused up-projection (its gate is an exact 0, not a
skipped branch), so DDP sees a gradient for every B_i even when no token picked it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora.gates._registry import register_gate
from crabplus.lora.gates.token import TokenGate

__all__ = ["TopKGate"]


@register_gate("topk")
class TopKGate(TokenGate):
    """Sparse per-token routing over the same ``lora_route`` as ``token``."""

    plain_softmax = False  # the top-k mask comes after the softmax

    def __init__(self, config) -> None:
        super().__init__(config)
        self.top_k = config.top_k

    @classmethod
    def check(cls, config) -> tuple[str, str] | None:
        if not 1 <= config.top_k <= config.heads:
            return "top_k", f"must be in [1, heads={config.heads}], got {config.top_k}"
        return None

    def _sparse(self, logits: torch.Tensor) -> torch.Tensor:
        values, index = logits.float().topk(self.top_k, dim=-1)  # (N, k)
        return torch.zeros_like(logits, dtype=torch.float32).scatter(-1, index, F.softmax(values, dim=-1))

    def gate(
        self, layer: nn.Module, logits: torch.Tensor | None, lead: torch.Size
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert logits is not None
        return self._sparse(logits), F.softmax(logits.float(), dim=-1)

    def reference(self, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = F.linear(x, layer.lora_route.weight).float()  # (..., K)
        kth = logits.topk(self.top_k, dim=-1).values[..., -1:]  # (..., 1) k-th largest logit
        kept = logits.masked_fill(logits < kth, float("-inf"))
        return F.softmax(kept, dim=-1), F.softmax(logits, dim=-1)
