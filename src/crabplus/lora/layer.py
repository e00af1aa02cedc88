"""``ILoRALinear``: a frozen ``nn.Linear`` plus K routed LoRA heads sharing one down-projection.

Notation: x (N, d_in) tokens, W (d_out, d_in) frozen, b bias,
A (r, d_in) shared down-projection, B_i (d_out, r) head i, W_r (K, d_in) router, s = alpha / r.

Literal formula (``forward_reference``)::

    y = x Wᵀ + b + s · Σ_i g_i(x) · B_i A drop_i(x),     g(x) = softmax(x W_rᵀ) in float32

Fast path (``forward``), same maths, one LoRA's worth of kernels:

1. ``[z | logits] = x [A; W_r]ᵀ`` — the router is fused into the down-projection (one GEMM) when no
   dropout is active; with dropout, A reads drop(x) and the tiny router GEMM reads x.
2. ``u = (s·g ⊗ z)`` flattened to (N, K·r) — the *gated, expanded rank*: column block i is g_i·z.
3. ``y = x Wᵀ + b + u B_catᵀ`` with ``B_cat = [B_0 | … | B_{K-1}]`` (d_out, K·r), one in-place
   ``addmm_`` into the frozen output (no extra (N, d_out) pass for the sum).

So the K heads cost one (N, K·r) × (K·r, d_out) GEMM instead of K separate up-projections, and A·x is
computed once (Crab recomputes it per head). With per-head dropout (Crab), the K dropout samples are
stacked and A applied to all of them in one GEMM.

The gate g is the routing variant's (:mod:`crabplus.lora.gates`, ``ILoRAConfig.routing``): the layer
asks it for W_r (to fuse), for g on the fast path and for its literal formula in ``forward_reference``.

Storage: the frozen ``weight``/``bias`` are the original tensors (keys stay ``<path>.weight``), the
adapter lives in ``lora_A.weight`` (r, d_in), ``lora_B.weight`` (d_out, K·r) and, for K > 1, the
variant's modules (``lora_route.weight`` (K, d_in) for token/top-k routing, ``lora_task_route.weight``
(T, K) for task routing).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora._gate_math import cv_squared
from crabplus.lora.config import ILoRAConfig
from crabplus.lora.fused import adapter_update
from crabplus.lora.gates import Gate, get_gate

__all__ = ["DROPOUT_DRAWS", "ILoRALinear", "bits_dropout", "bits_mask"]

DROPOUT_DRAWS = ("bernoulli", "bits")
_LEVELS = 65536  # the keep mask compares 16-bit uniform integers with a threshold


def bits_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout whose mask compares 16-bit uniform integers with a threshold.

    Why: on CPU ``F.dropout``'s ``bernoulli_`` draws one random number per element and was ~12 % of a demo
    training step (14 adapted linears each mask their whole input). One full-range 64-bit draw here gives
    four uniform 16-bit lanes, read in place (``random_()``'s default range leaves the top bit 0, which cost a
    lane and a strided copy); the drop probability is ``p`` rounded to a multiple of 1/65536
    (0.05 -> 0.0500031) and the scale is exact for it.
    """
    mask = bits_mask(x, p)
    return x if mask is None else x * mask


def bits_mask(x: torch.Tensor, p: float) -> torch.Tensor | None:
    """``bits_dropout``'s mask for ``x``, scale included (0 or 1 / (1 - p')); None when nothing drops."""
    drop = round(p * _LEVELS)
    if drop == 0:
        return None
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)  # 64 bits
    lanes = words.view(torch.int16)[:n].view_as(x)  # four uniform 16-bit lanes per word, no copy
    keep = lanes >= drop - _LEVELS // 2
    return keep.to(x.dtype).mul_(_LEVELS / (_LEVELS - drop))


def _autocast_on(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (False for devices without autocast, e.g. ``meta``)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # "unknown device type for autocast"
        return False


class ILoRALinear(nn.Linear):
    """Drop-in replacement of an ``nn.Linear`` (it *is* one: HF code reading ``.weight`` still works).

    Attributes beyond the parameters: ``group`` (``llm`` or the encoder prefix), ``collector`` (a
    :class:`~crabplus.lora.RoutingStats` or None), ``last_balance_loss`` (coef · cv² of the last
    forward, or None; consumed by :func:`crabplus.lora.balance_loss`) and ``gate_rule`` (the routing
    variant's :class:`~crabplus.lora.gates.Gate`, None for K = 1).
    """

    def __init__(self, base: nn.Linear, config: ILoRAConfig, group: str = "llm") -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight  # the original Parameter objects: frozen keys and sharing unchanged
        self.bias = base.bias
        self.heads, self.rank, self.scaling = config.heads, config.rank, config.scaling
        self.routing = config.routing if config.heads > 1 else "none"
        self.dropout_p = config.dropout
        self.dropout_draw = "bernoulli"  # or "bits" (``bits_dropout``); a trainer setting, not saved
        self.fused = False  # adapter term as one autograd node where it applies (``_fusable``); idem
        self.shared_dropout = config.shared_dropout or config.heads == 1
        self.balance_coef, self.group = config.balance_loss_coef, group
        factory: dict[str, Any] = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(self.in_features, self.rank, bias=False, **factory)
        self.lora_B = nn.Linear(self.heads * self.rank, self.out_features, bias=False, **factory)
        self.gate_rule: Gate | None = get_gate(config.routing)(config) if config.heads > 1 else None
        if self.gate_rule is not None:
            self._add_gate_modules(self.gate_rule.build(self.in_features, factory))
        self.collector: Any = None
        self.last_balance_loss: torch.Tensor | None = None
        self.reset_adapter(config.init)

    def _add_gate_modules(self, modules: dict[str, nn.Module]) -> None:
        rule = self.gate_rule
        assert rule is not None
        if sorted(modules) != sorted(rule.modules):
            raise ValueError(
                f"routing {rule.name!r}: build() gave {sorted(modules)}, modules={list(rule.modules)}"
            )
        for name, module in modules.items():
            if [n for n, _ in module.named_parameters()] != ["weight"]:
                raise ValueError(
                    f"routing {rule.name!r}: module {name} must hold exactly one parameter, 'weight'"
                )
            setattr(self, name, module)

    # ----- parameters -----------------------------------------------------------------------------------
    @torch.no_grad()
    def reset_adapter(self, init: str = "kaiming") -> None:
        """Crab init: A ~ U(±1/√d_in) (kaiming_uniform a=√5), B_i = 0 (adapted model == base); the
        routing variant then initialises its own modules."""
        if init == "gaussian":
            nn.init.normal_(self.lora_A.weight, std=1.0 / self.rank)
        else:
            nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        if self.gate_rule is not None:
            self.gate_rule.reset(self)

    def head_up(self, i: int) -> torch.Tensor:
        """B_i (d_out, r): column block i of ``lora_B.weight`` (a view)."""
        return self.lora_B.weight[:, i * self.rank : (i + 1) * self.rank]

    def adapter_parameters(self) -> dict[str, nn.Parameter]:
        """Adapter parameters by local name (``lora_A.weight``, …)."""
        return {n: p for n, p in self.named_parameters() if n.startswith("lora_")}

    def gate_modules(self) -> dict[str, nn.Module]:
        """The routing variant's modules by attribute name (empty for K = 1)."""
        return {n: getattr(self, n) for n in self.gate_rule.modules} if self.gate_rule is not None else {}

    # ----- gates ----------------------------------------------------------------------------------------
    def _record(self, gate: torch.Tensor, probs: torch.Tensor, lead: torch.Size) -> None:
        """Side outputs: balance loss (coef > 0) and routing statistics (when a collector is attached)."""
        if self.balance_coef > 0:
            self.last_balance_loss = self.balance_coef * cv_squared(probs.mean(0))
        if self.collector is not None:
            self.collector.observe(self, gate.detach(), lead)

    # ----- forward --------------------------------------------------------------------------------------
    def _dropout_active(self) -> bool:
        return self.training and self.dropout_p > 0

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout on the adapter input in training mode (identity otherwise), by ``dropout_draw``."""
        if not self._dropout_active():
            return x
        if self.dropout_draw == "bits":
            return bits_dropout(x, self.dropout_p)
        return F.dropout(x, self.dropout_p, True)

    def _down(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z = A drop(x): (N, r), or (N, K, r) with per-head dropout; router logits (N, K) or None."""
        W_r = self.gate_rule.router(self) if self.gate_rule is not None else None
        if not self._dropout_active():
            if W_r is None:
                return F.linear(x, self.lora_A.weight), None
            zl = F.linear(x, torch.cat([self.lora_A.weight, W_r]))  # (N, r + K): router fused into A
            return zl[:, : self.rank], zl[:, self.rank :]
        logits = F.linear(x, W_r) if W_r is not None else None  # router reads the un-dropped x
        if self.shared_dropout:
            return F.linear(self._drop(x), self.lora_A.weight), logits
        drops = torch.stack([self._drop(x) for _ in range(self.heads)], 1)  # (N, K, d_in)
        return F.linear(drops, self.lora_A.weight), logits  # (N, K, r)

    def _fusable(self) -> bool:
        """Whether ``crabplus.lora.fused`` computes exactly this layer's adapter term (and a graph is being
        recorded, without autocast): a plain softmax router (or K = 1), one dropout mask for all heads drawn by
        ``bits`` (or none active), frozen weight and bias, and no side outputs (routing statistics, balance
        loss)."""
        if not self.fused:
            return False
        gate_ok = self.gate_rule is None or self.gate_rule.plain_softmax
        dropout_ok = not self._dropout_active() or (self.shared_dropout and self.dropout_draw == "bits")
        frozen = not self.weight.requires_grad and (self.bias is None or not self.bias.requires_grad)
        quiet = self.collector is None and self.balance_coef <= 0
        # without a graph to record (evaluation, generation) the plain path has nothing to save; under autocast
        # (bf16-mixed) the hand-written backward would mix dtypes that autocast reconciles on the plain path
        recording = torch.is_grad_enabled() and not _autocast_on(self.weight.device.type)
        return recording and gate_ok and dropout_ok and frozen and quiet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fast path. x (..., d_in) -> (..., d_out)."""
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)  # (N, d_in)
        base = F.linear(x2, self.weight, self.bias)  # (N, d_out)
        if self._fusable():
            mask = bits_mask(x2, self.dropout_p) if self._dropout_active() else None
            router = self.gate_rule.router(self) if self.gate_rule is not None else None
            y = adapter_update(base, x2, mask, self.lora_A.weight, router, self.lora_B.weight, self.scaling)
            return y.view(*lead, self.out_features)
        z, logits = self._down(x2)
        if self.heads == 1:
            u = z  # (N, r): plain LoRA
        else:
            assert self.gate_rule is not None
            gate, probs = self.gate_rule.gate(self, logits, lead)  # (N, K) float32
            self._record(gate, probs, lead)
            g = gate.to(z.dtype).unsqueeze(-1)  # (N, K, 1)
            u = (g * (z if z.dim() == 3 else z.unsqueeze(1))).flatten(1)  # (N, K*r) gated, expanded rank
        # In place into the fresh frozen output (mm/addmm do not save their output for backward).
        y = base.addmm_(
            u.to(base.dtype), self.lora_B.weight.t().to(base.dtype), alpha=self.scaling
        )  # (N, d_out)
        return y.view(*lead, self.out_features)

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The literal formula, head by head (slow; for tests). Draws dropout masks in the same order
        as :meth:`forward`, so under the same RNG seed both agree in training mode too."""
        y = F.linear(x, self.weight, self.bias)  # (..., d_out)
        lead = x.shape[:-1]
        if self.gate_rule is None:
            gate = torch.ones(*lead, 1, dtype=torch.float32, device=x.device)  # K = 1: plain LoRA
        else:
            gate, _ = self.gate_rule.reference(self, x)  # (..., K) float32
        x_drop = self._drop(x) if self.shared_dropout else None
        for i in range(self.heads):
            xi = x_drop if x_drop is not None else self._drop(x)
            head = F.linear(F.linear(xi, self.lora_A.weight), self.head_up(i))  # B_i A drop_i(x)
            y = y + self.scaling * gate[..., i : i + 1].to(y.dtype) * head
        return y

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, heads={self.heads}, "
            f"rank={self.rank}, scaling={self.scaling:g}, routing={self.routing}, group={self.group}"
        )
