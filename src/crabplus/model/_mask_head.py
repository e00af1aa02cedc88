"""Segmentation route 1 of Crab: the LM hidden state at ``<mask>`` decodes a mask over frame patches.

Notation: B batch, d LM width, P = g² patch tokens of the source frame on a g×g grid, c their width,
k head width, S output side.

Decision: a deliberately small decoder (Crab's is a 29 M-parameter SAM-style two-way transformer):
the ``<mask>`` state becomes a query q (MLP d -> k), patch features become a k-channel map refined by
one residual 3×3 conv, and the logit at a patch is q·f / sqrt(k) + b, upsampled bilinearly to S×S.

Loss (as Crab's, binary tasks): ``bce_weight * BCE(pixel mean) + dice_weight * Dice`` with
Dice = 1 - (2 Σ σ(x)·y + 1) / (Σ σ(x) + Σ y + 1) per sample, both averaged over samples.

Semantic segmentation (AVSS) reuses the same head: the answer names each class followed by its own
``<mask>``, so the head decodes one binary mask per ``<mask>`` and the class travels in the text
(``AVLLM.every_mask``). Decision: unlike Crab's 71-way pixel classifier, no class count is baked into the
head, and binary and semantic tasks share every weight.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MaskHead", "dice_loss", "mask_loss"]


class MaskHead(nn.Module):
    """Mask logits from one LM hidden state and one frame's patch features."""

    def __init__(self, lm_dim: int, feat_dim: int, dim: int) -> None:
        super().__init__()
        self.query = nn.Sequential(nn.Linear(lm_dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.feat = nn.Linear(feat_dim, dim)
        self.refine = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        self.bias = nn.Parameter(torch.zeros(1))  # (1,): FSDP rejects 0-d parameters

    def forward(self, hidden: torch.Tensor, feats: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
        """hidden (B, d), feats (B, P, c) -> logits (B, S, S)."""
        B, P, _ = feats.shape
        g = math.isqrt(P)
        if g * g != P:
            raise ValueError(f"mask head needs a square patch grid, got {P} patch tokens")
        f = self.feat(feats).transpose(1, 2).reshape(B, -1, g, g)  # (B, k, g, g)
        f = f + self.refine(F.gelu(f))  # (B, k, g, g)
        q = self.query(hidden.to(f.dtype))  # (B, k)
        low = torch.einsum("bk,bkhw->bhw", q, f) / math.sqrt(q.shape[-1]) + self.bias  # (B, g, g)
        return F.interpolate(low[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]  # (B, S, S)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Mean over samples of 1 - (2 Σ p·y + smooth) / (Σ p + Σ y + smooth), p = σ(logits). (B, S, S) -> ()"""
    p = logits.sigmoid().flatten(1)  # (B, S·S)
    y = target.to(p.dtype).flatten(1)
    dice = (2 * (p * y).sum(1) + smooth) / (p.sum(1) + y.sum(1) + smooth)  # (B,)
    return (1 - dice).mean()


def mask_loss(
    logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 1.0, dice_weight: float = 0.5
) -> torch.Tensor:
    """BCE-with-logits (mean over pixels and samples) times ``bce_weight`` plus Dice times ``dice_weight``."""
    target = target.to(logits.dtype)
    if target.shape[-2:] != logits.shape[-2:]:
        raise ValueError(
            f"mask target {tuple(target.shape)} does not match mask logits {tuple(logits.shape)}"
        )
    bce = F.binary_cross_entropy_with_logits(logits, target)
    return bce_weight * bce + dice_weight * dice_loss(logits, target)
