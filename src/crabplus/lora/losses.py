"""Model-level extra loss terms of I-LoRA: the router balance loss and the DDP keep-alive term."""

from __future__ import annotations

import torch
import torch.nn as nn

from crabplus.lora.inject import ilora_layers

__all__ = ["balance_loss", "unused_params_term"]


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


def unused_params_term(model: nn.Module) -> torch.Tensor | None:
    """``0 · Σ params`` of the trainable adapter layers that did not run since the last call.

    Why: under DDP without ``find_unused_parameters`` every trainable parameter must receive a
    gradient each step. Inside one layer all heads and the router are always in the graph (see
    ``ILoRALinear.forward``), but a whole encoder can be skipped by a batch without its modality.
    Add the returned term to the loss; it changes nothing numerically. Resets the ``ran`` flags.
    """
    total: torch.Tensor | None = None
    for _, layer in ilora_layers(model):
        if not layer.ran:
            for param in layer.adapter_parameters().values():
                if param.requires_grad:
                    term = param.sum() * 0.0
                    total = term if total is None else total + term
        layer.ran = False
    return total
