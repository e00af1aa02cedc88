"""Applying a coefficient k to one modality's learning: two routes, and GE noise.

Route (a), `grad_scale`: an autograd identity whose backward multiplies the gradient by k. Placed on a
modality's contribution to the fusion and on its unimodal logits, it scales every gradient that reaches
that modality's parameters, inside the graph, so it is exact under gradient accumulation, AMP and any
distributed strategy. k is read from a `ScaleHandle` *at backward time*, so the graph can be built before
k is known (k is computed from the detached forward outputs, then backward runs).

Route (b), `scale_gradients`: multiply ``p.grad`` of each modality's parameters after backward, before
the optimizer step (Lightning's ``on_before_optimizer_step``: after AMP unscaling and DDP's all-reduce,
before clipping, the order of the original code). Exact only with ``accumulate_grad_batches=1``.

`scale_learning_rates` is the ``mode: lr`` alternative: Adam(W) is invariant to a constant gradient
scale (up to eps), so for adaptive optimizers k scales the modality's param-group learning rate instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

__all__ = [
    "ScaleHandle",
    "add_ge_noise",
    "grad_scale",
    "scale_gradients",
    "scale_learning_rates",
]


class ScaleHandle:
    """A mutable coefficient read by `grad_scale` nodes during backward (default 1: identity)."""

    def __init__(self, value: float = 1.0) -> None:
        self.value = float(value)


class _GradScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, handle: ScaleHandle) -> Tensor:  # type: ignore[override]
        ctx.handle = handle
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad * ctx.handle.value, None


def grad_scale(x: Tensor, handle: ScaleHandle) -> Tensor:
    """Identity in forward; the gradient is multiplied by ``handle.value`` (read at backward time)."""
    return _GradScale.apply(x, handle)


def scale_gradients(params_by_modality: Mapping[str, Iterable[nn.Parameter]], k: Mapping[str, float]) -> None:
    """Route (b): ``p.grad *= k[modality]`` for every parameter of every modality (in place).

    Shared parameters (fusion, LM, LoRA) are not listed by ``modality_parameters()`` and stay unscaled,
    which is exactly MLB's scope.
    """
    for modality, params in params_by_modality.items():
        coef = float(k[modality])
        if coef == 1.0:
            continue
        for p in params:
            if p.grad is not None:
                p.grad.mul_(coef)


def add_ge_noise(
    params_by_modality: Mapping[str, Iterable[nn.Parameter]],
    k: Mapping[str, float],
    generator: torch.Generator,
) -> None:
    """OGM-GE's update with generalisation enhancement: g <- k * g + N(0, (std(g) + 1e-8)^2), in place.

    Applied to every listed gradient with more than one element (a std needs two); the caller chooses
    which parameters are listed (`OGMGE`'s ``scope``). The noise's std is that of the *unmodulated*
    gradient, as in the original code. The noise comes from ``generator``, which must be seeded
    identically on every DDP rank: the gradients were already all-reduced, so different noise per rank
    would make the replicas drift apart.
    """
    for modality, params in params_by_modality.items():
        coef = float(k[modality])
        for p in params:
            g = p.grad
            if g is None:
                continue
            std = g.float().std() + 1e-8 if g.numel() > 1 else None
            g.mul_(coef)
            if std is not None:
                noise = torch.randn(g.shape, generator=generator, dtype=torch.float32)  # like g, on CPU
                g.add_((noise.to(g.device) * std).to(g.dtype))


def scale_learning_rates(optimizer: torch.optim.Optimizer, k: Mapping[str, float]) -> None:
    """``mode: lr``: lr = base_lr * k[group["modality"]] for param groups tagged with a ``modality`` key.

    The untouched learning rate is remembered in ``group["balance_base_lr"]`` on first use, so repeated
    calls do not compound. Groups without the tag (shared parameters) are left alone.
    """
    for group in optimizer.param_groups:
        modality = group.get("modality")
        if modality is None or modality not in k:
            continue
        base = group.setdefault("balance_base_lr", group["lr"])
        group["lr"] = base * float(k[modality])
