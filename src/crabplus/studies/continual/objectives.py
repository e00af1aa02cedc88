"""Pre-training objectives of the backbone.

- `split_visible`: MAE masking *inside* a kept set. The visible count is a fraction of the full length
  L, so selection does not change what the encoder sees, only how many targets the decoder runs on
  ("modality_guided_masking" in the reference code).
- `mae_loss`: MSE on per-patch normalized targets (`norm_pix_loss=True`).
- `info_nce`: symmetric InfoNCE between L2-normalized audio and video clip embeddings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from crabplus.studies.continual.backbone import gather_tokens

__all__ = ["split_visible", "mae_loss", "info_nce"]


def split_visible(
    keep: torch.Tensor, full_length: int, mask_ratio: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split kept patch indices (B, K) into visible (B, n) and target (B, K − n) indices.

    n = round((1 − mask_ratio)·full_length), capped at K − 1 so there is always a target. Which kept
    patches are visible is uniform at random (per row), drawn from `generator`.
    """
    b, k = keep.shape
    n = min(max(1, round((1.0 - mask_ratio) * full_length)), k - 1)
    noise = torch.rand(b, k, generator=generator, device=keep.device)  # (B, K)
    order = noise.argsort(dim=1)
    shuffled = torch.gather(keep, 1, order)  # (B, K)
    return shuffled[:, :n], shuffled[:, n:]


def mae_loss(pred: torch.Tensor, patches: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
    """Mean squared error of `pred` (B, m, D) against normalized `patches` (B, L, D) at `target_idx` (B, m)."""
    target = gather_tokens(patches, target_idx)  # (B, m, D)
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    target = (target - mean) / (var + 1e-6).sqrt()
    return F.mse_loss(pred, target)


def info_nce(emb_a: torch.Tensor, emb_v: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of paired clip embeddings (B, d); positives on the diagonal."""
    a, v = F.normalize(emb_a, dim=-1), F.normalize(emb_v, dim=-1)
    logits = a @ v.T / temperature  # (B, B)
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
