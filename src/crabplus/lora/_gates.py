"""Gate functions of the routing variants, and the router statistics computed from gates.

Notation: N tokens, K heads, T tasks. Every gate is float32 (Crab computes the softmax in fp32) and
sums to 1 over K for each token.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["dense_gate", "topk_gate", "task_gate", "rows_to_tokens", "cv_squared", "gate_entropy"]


def dense_gate(logits: torch.Tensor) -> torch.Tensor:
    """Crab's router: softmax over the K heads in float32. logits (N, K) -> (N, K)."""
    return F.softmax(logits.float(), dim=-1)


def topk_gate(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits per token, softmax over them, zeros elsewhere. (N, K) -> (N, K).

    Every head stays in the autograd graph through the fused up-projection (its gate is an exact 0,
    not a skipped branch), so DDP sees a gradient for every B_i even when no token picked it.
    """
    values, index = logits.float().topk(k, dim=-1)  # (N, k)
    return torch.zeros_like(logits, dtype=torch.float32).scatter(-1, index, F.softmax(values, dim=-1))


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


def task_gate(table: torch.Tensor, token_task_ids: torch.Tensor) -> torch.Tensor:
    """MOELoRA-style gate: softmax of the task's row of a (T, K) logit table. ids (N,) -> (N, K)."""
    if token_task_ids.numel() and int(token_task_ids.max()) >= table.shape[0]:
        raise ValueError(f"task id {int(token_task_ids.max())} >= ILoRAConfig.num_tasks={table.shape[0]}")
    return F.softmax(table.float(), dim=-1)[token_task_ids]


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
