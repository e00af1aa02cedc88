"""Model-level extra loss term of I-LoRA: the router balance loss."""

from __future__ import annotations

import torch
import torch.nn as nn

from crabplus.lora.inject import ilora_layers

__all__ = ["balance_loss"]


def balance_loss(model: nn.Module) -> torch.Tensor | None:
    """Sum over layers of ``balance_loss_coef · cv²(head load)`` from the last training forward.

    Load of head i = mean over the layer's tokens of the dense router probability g_i (for task
    routing, of the task gate). None when the balance loss is disabled or no layer recorded one.
    Each layer's value is consumed (reset to None), so a stale value is never added twice.
    """
    total: torch.Tensor | None = None
    for _, layer in ilora_layers(model):
        value, layer.last_balance_loss = layer.last_balance_loss, None
        if value is not None:
            total = value if total is None else total + value
    return total
