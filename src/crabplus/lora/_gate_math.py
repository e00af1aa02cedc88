"""Token bookkeeping and router statistics shared by the gate variants, the layer and ``RoutingStats``.

Notation: N tokens, K heads, B samples.
"""

from __future__ import annotations

import torch

__all__ = ["rows_to_tokens", "cv_squared", "gate_entropy"]


def rows_to_tokens(ids: torch.Tensor, lead_shape: torch.Size) -> torch.Tensor:
    """Spread per-sample ids (B,) over the tokens of an input with leading shape ``lead_shape``.

    The first leading dim of the adapted layer's input is its batch: equal to B for the LM, or a
    multiple of B for encoders that fold frames/windows into the batch (sample-major, as
    ``x.flatten(0, 1)`` of (B, T, ...) gives). Returns (N,) with N = prod(lead_shape).
    """
    rows = lead_shape[0] if len(lead_shape) else 1
    batch = ids.shape[0]
    if rows % batch != 0:
        raise ValueError(
            f"routing_inputs(task_ids=...) has {batch} samples but the adapted layer's input has "
            f"leading shape {tuple(lead_shape)}; cannot map samples to its tokens"
        )
    per_row = ids.repeat_interleave(rows // batch) if rows != batch else ids  # (rows,)
    tokens_per_row = int(torch.Size(lead_shape[1:]).numel())
    return per_row.repeat_interleave(tokens_per_row) if tokens_per_row != 1 else per_row


def cv_squared(load: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Squared coefficient of variation var/mean² of the per-head load (K,) (Shazeer et al. 2017).

    HydraLoRA's (and Crab's unused) ``cv_squared``: unbiased variance. Zero when heads are equally
    loaded; differentiable, so the router gets a gradient even while every B_i is still zero.
    """
    load = load.float()
    if load.numel() < 2:
        return load.new_zeros(())
    return load.var() / (load.mean() ** 2 + eps)


def gate_entropy(gate: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each token's gate. (N, K) -> (N,); 0 for a one-hot gate."""
    gate = gate.float()
    return -(gate * gate.clamp_min(1e-12).log()).sum(-1)
