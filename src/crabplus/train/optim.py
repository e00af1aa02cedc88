"""Optimizer and learning-rate schedule from config: AdamW with linear warm-up then cosine decay.

Crab's scripts asked for cosine but DeepSpeed's WarmupDecayLR silently replaced it;
here the schedule is a plain ``LambdaLR`` owned by Lightning, so what the config says is what runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

__all__ = ["OptimizerConfig", "build_optimizer", "warmup_cosine"]


@dataclass
class OptimizerConfig:
    """AdamW + schedule settings.

    Attributes:
        lr: peak learning rate (Crab and Crab+: 1e-4).
        weight_decay: AdamW decoupled weight decay (Crab: 0).
        betas: AdamW betas.
        eps: AdamW epsilon.
        warmup_ratio: share of total steps spent warming up linearly from 0 (Crab: 0.03).
        min_lr_ratio: floor of the cosine, as a share of ``lr``.
        schedule: "cosine" (warm-up + cosine) or "constant" (warm-up then flat).
        grad_clip: max gradient norm, applied by the Trainer via the module (0 disables).
    """

    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_ratio: float = 0.03
    min_lr_ratio: float = 0.0
    schedule: str = "cosine"
    grad_clip: float = 1.0


def warmup_cosine(
    step: int, total_steps: int, warmup_ratio: float, min_lr_ratio: float, cosine: bool
) -> float:
    """Multiplier of the peak lr at ``step`` (0-based)."""
    warmup = max(1, int(round(warmup_ratio * total_steps)))
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(
    params: Iterable[torch.nn.Parameter],
    config: OptimizerConfig,
    total_steps: int,
    foreach: bool | None = None,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``params`` and its per-step warm-up + cosine schedule (``foreach``: None = True on CPU,
    torch's default elsewhere; ``tools/bench_train.py`` sets False to time the per-tensor update)."""
    if config.schedule not in ("cosine", "constant"):
        raise ValueError(f"optimizer.schedule: expected 'cosine' or 'constant', got {config.schedule!r}")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("no trainable parameters: check model.trainable and model.adapter")
    # On CPU torch defaults to one kernel chain per tensor; the multi-tensor (foreach) update computes the
    # same values bit for bit (test) in about half the time for the ~100 small adapter tensors of a run.
    # Elsewhere torch's own default (foreach on CUDA) is kept.
    on_cpu = all(p.device.type == "cpu" for p in params)
    optimizer = torch.optim.AdamW(
        params,
        lr=config.lr,
        betas=tuple(config.betas),
        eps=config.eps,
        weight_decay=config.weight_decay,
        foreach=foreach if foreach is not None else (True if on_cpu else None),
    )
    cosine = config.schedule == "cosine"
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine(
            step, max(1, total_steps), config.warmup_ratio, config.min_lr_ratio, cosine
        ),
    )
    return optimizer, scheduler
