"""The I-LoRA adapter term as one autograd node: forward and hand-derived backward of

    y = base + s · u B_catᵀ,   u = (g ⊗ z) flattened (N, K·r),   z = A (x ⊙ m),   g = softmax(x W_rᵀ)

with ``m`` the dropout mask times its scale (1 without dropout) and ``base = x Wᵀ + b`` computed by the
caller (the frozen linear, its own autograd node), which this node updates in place.

Why: the same maths through autograd records about ten nodes per adapted linear (dropout, two GEMMs, the
softmax, the broadcast product, a flatten, the in-place update), and on CPU their bookkeeping costs as much
as their arithmetic at the demo's sizes. Backward, with G = ∂L/∂y::

    ∂u = s · G B_cat            ∂B_cat = s · Gᵀ u
    ∂g_k = Σ_j ∂u_kj z_j        ∂z_j = Σ_k ∂u_kj g_k
    ∂l = g ⊙ (∂g − ⟨g, ∂g⟩)     (softmax, in float32 like the forward)
    ∂A = ∂zᵀ (x ⊙ m)            ∂W_r = ∂lᵀ x
    ∂x = (∂z A) ⊙ m + ∂l W_r    (the caller's frozen linear adds G W)

K = 1 (plain LoRA) has no router: g = 1, u = z. Used by ``ILoRALinear`` for the ``token`` router (and
K = 1) with one dropout mask shared by the heads and frozen ``weight``/``bias``; any other case takes the
autograd path, which ``tests/lora/test_fused_adapter.py`` checks it against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["adapter_update"]


def _at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


class _AdapterUpdate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, base, x, mask, lora_a, router, lora_b, scaling: float):  # noqa: D102
        rank = lora_a.shape[0]
        dropped = x if mask is None else x * mask  # (N, d_in), kept for A's gradient
        if router is None:
            z, logits = F.linear(dropped, lora_a), None  # (N, r)
        elif mask is None:  # the router's GEMM fused into A's, as the autograd path does
            zl = F.linear(x, torch.cat([lora_a, router]))  # (N, r + K)
            z, logits = zl[:, :rank], zl[:, rank:]
        else:
            z, logits = F.linear(dropped, lora_a), F.linear(x, router)
        if logits is None:
            gate, u = None, z  # (N, r): plain LoRA
        else:
            gate = torch.softmax(logits.to(_at_least_fp32(logits.dtype)), dim=-1)  # (N, K) float32 (or 64)
            u = (gate.to(z.dtype).unsqueeze(-1) * z.unsqueeze(1)).flatten(1)  # (N, K·r)
        base.addmm_(u.to(base.dtype), lora_b.t().to(base.dtype), alpha=scaling)
        ctx.mark_dirty(base)
        ctx.save_for_backward(x, dropped, mask, lora_a, router, lora_b, z, gate)
        ctx.scaling, ctx.heads = scaling, lora_b.shape[1] // rank
        return base

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        x, dropped, mask, lora_a, router, lora_b, z, gate = ctx.saved_tensors
        s = ctx.scaling
        grad_u = (grad @ lora_b.to(grad.dtype)) * s  # (N, K·r)
        grad_x = grad_a = grad_router = grad_b = None
        if gate is None:
            u, grad_z, grad_logits = z, grad_u, None
        else:
            n, rank = z.shape
            grad_u3 = grad_u.view(n, ctx.heads, rank)  # (N, K, r)
            g = gate.to(z.dtype)
            u = (g.unsqueeze(-1) * z.unsqueeze(1)).flatten(1)
            grad_z = (grad_u3 * g.unsqueeze(-1)).sum(1)  # (N, r)
            grad_g = (grad_u3 * z.unsqueeze(1)).sum(-1).to(gate.dtype)  # (N, K)
            grad_logits = (gate * (grad_g - (gate * grad_g).sum(-1, keepdim=True))).to(x.dtype)
        if ctx.needs_input_grad[5]:
            grad_b = (grad.t() @ u.to(grad.dtype)).mul_(s)  # (d_out, K·r); scaled after the product
        if ctx.needs_input_grad[3]:
            grad_a = grad_z.t() @ dropped  # (r, d_in)
        if grad_logits is not None and ctx.needs_input_grad[4]:
            grad_router = grad_logits.t() @ x  # (K, d_in)
        if ctx.needs_input_grad[1]:
            grad_x = grad_z @ lora_a
            if mask is not None:
                grad_x = grad_x * mask
            if grad_logits is not None:
                grad_x = grad_x.addmm_(grad_logits, router)
        return grad, grad_x, None, grad_a, grad_router, grad_b, None


def adapter_update(
    base: torch.Tensor,
    x: torch.Tensor,
    mask: torch.Tensor | None,
    lora_a: torch.Tensor,
    router: torch.Tensor | None,
    lora_b: torch.Tensor,
    scaling: float,
) -> torch.Tensor:
    """``base + scaling · u B_catᵀ`` (module docstring), written into ``base`` (N, d_out) and returned.

    Args:
        base: the frozen linear's output ``x Wᵀ + b`` (N, d_out), fresh (it is updated in place).
        x: the layer input (N, d_in).
        mask: dropout mask already scaled (N, d_in), or None.
        lora_a: A (r, d_in); router: W_r (K, d_in) or None for K = 1; lora_b: B_cat (d_out, K·r).
    """
    return _AdapterUpdate.apply(base, x, mask, lora_a, router, lora_b, scaling)
