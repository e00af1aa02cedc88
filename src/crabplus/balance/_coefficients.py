"""Balancing coefficients: the pure rules of MLB and OGM-GE, and the phase-out window.

Notation:

- M modalities, indexed i; s_i in (0, 1] is modality i's score on the training batch: the mean
  probability its unimodal estimate puts on the true class.
- r_i = mean_{m != i} s_m / s_i: "the others relative to me". r_i > 1 means i is the weaker one.
- MLB:    k_i = 1 + (beta_i - 1) * tanh(alpha * (r_i - 1)),  beta_i = beta_max if r_i > 1 else 2.
  Acceleration (k > 1, capped by beta_max) for the weaker modality, deceleration (k in
  (1 - tanh(alpha), 1)) for the dominant one, both at once. Phase-out is implicit: as every head fits the
  training data, s_i -> 1, r_i -> 1 and k_i -> 1.
- OGM-GE: rho_i = s_i / mean_{m != i} s_m (= 1 / r_i); k_i = 1 - tanh(alpha * rho_i) if rho_i > 1 else 1.
  Deceleration only, and it jumps at rho = 1 (the original code uses rho, not rho - 1).

The rules are memoryless: k depends only on the current batch's scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "PhaseOut",
    "mlb_coefficient",
    "mlb_coefficients",
    "ogm_coefficients",
    "others_over_self",
]


def others_over_self(scores: Tensor) -> Tensor:
    """r_i = mean of the other modalities' scores / s_i (for two modalities r_a = s_v / s_a).

    Args:
        scores: (M,) positive scores s_i, M >= 2.

    Returns:
        (M,) ratios r_i.
    """
    m = scores.numel()
    if m < 2:
        raise ValueError(f"balancing needs at least two modalities, got {m} score(s)")
    others = (scores.sum() - scores) / (m - 1)  # (M,)
    return others / scores.clamp_min(1e-12)  # (M,)


def mlb_coefficient(r: float, alpha: float, beta_max: float) -> float:
    """The literal MLB formula for one modality, kept as the reference for the vector path."""
    beta = beta_max if r > 1 else 2.0
    return 1.0 + (beta - 1.0) * math.tanh(alpha * (r - 1.0))


def mlb_coefficients(scores: Tensor, alpha: float, beta_max: float = 2.0) -> Tensor:
    """MLB coefficients k_i from the modalities' scores (vectorised; agrees with `mlb_coefficient`).

    Args:
        scores: (M,) scores s_i.
        alpha: steepness of the tanh; the paper tunes it per dataset (0.5 to 5).
        beta_max: acceleration cap (k < beta_max). 2 is the "original" MLB rule (k in (0, 2));
            1 switches acceleration off; < 1 damps the weaker side too (the UCF setting).

    Returns:
        (M,) coefficients, float32 on the scores' device.
    """
    r = others_over_self(scores.double())  # (M,)
    beta = torch.where(r > 1, torch.full_like(r, beta_max), torch.full_like(r, 2.0))  # (M,)
    return (1.0 + (beta - 1.0) * torch.tanh(alpha * (r - 1.0))).float()  # (M,)


def ogm_coefficients(scores: Tensor, alpha: float) -> Tensor:
    """OGM-GE coefficients (Peng et al. 2022, as reproduced in the MLB repo).

    Only the dominant modality (rho_i > 1) is slowed down, by 1 - tanh(alpha * rho_i); the others keep 1.

    Args:
        scores: (M,) scores s_i from the fused layer's per-modality halves.
        alpha: modulation strength.

    Returns:
        (M,) coefficients in (0, 1].
    """
    rho = 1.0 / others_over_self(scores.double())  # (M,)
    k = torch.where(rho > 1, 1.0 - torch.tanh(alpha * rho), torch.ones_like(rho))  # (M,)
    return k.float()


@dataclass(frozen=True)
class PhaseOut:
    """Window and optional linear ramp-down of the balancing strength lambda(step) in [0, 1].

    The coefficient actually applied is k_eff = 1 + lambda(step) * (k - 1), so lambda = 0 means "no
    balancing" (k_eff = 1). MLB's own phase-out is implicit (k -> 1 as the heads fit); this is the
    outer window `[starting_epoch, ending_epoch]` of the MLB/OGM code, counted in optimizer steps, plus
    a crabplus extension: a linear ramp over the last `ramp_steps` steps of the window so that the
    switch-off is smooth (useful with an information-limited modality, which never phases out by itself).

    Attributes:
        start_step: first step with balancing (lambda = 1 from here, or the ramp).
        end_step: first step without balancing; None keeps it on forever (the paper's default).
        ramp_steps: length of the linear ramp from 1 down to 0 that ends at `end_step`.
    """

    start_step: int = 0
    end_step: int | None = None
    ramp_steps: int = 0

    def __post_init__(self) -> None:
        if self.end_step is not None and self.end_step < self.start_step:
            raise ValueError(f"phase_out.end_step={self.end_step} < phase_out.start_step={self.start_step}")
        if self.ramp_steps < 0:
            raise ValueError(f"phase_out.ramp_steps must be >= 0, got {self.ramp_steps}")

    def strength(self, step: int) -> float:
        """lambda(step): 0 outside [start_step, end_step), 1 inside, linear over the final ramp."""
        if step < self.start_step or (self.end_step is not None and step >= self.end_step):
            return 0.0
        if self.end_step is None or self.ramp_steps == 0:
            return 1.0
        ramp_start = max(self.start_step, self.end_step - self.ramp_steps)
        if step < ramp_start:
            return 1.0
        return (self.end_step - step) / (self.end_step - ramp_start)

    def apply(self, k: Tensor, step: int) -> Tensor:
        """k_eff = 1 + lambda(step) * (k - 1); (M,) -> (M,)."""
        return 1.0 + self.strength(step) * (k - 1.0)
