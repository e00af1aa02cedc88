"""Shared media helpers: the encoded-media record, normalisation, log-mel padding.

Notation: B batch, T frames, S frame side, G groups, P tokens per group, c encoder width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Encoded", "fit_frames", "fit_mel", "normalise", "unit_pixels"]


@dataclass
class Encoded:
    """Encoder output of one modality for a batch.

    Attributes:
        groups: (B, G, P, c) features grouped per frame (or frame pair) / audio window.
        grid: (t, h, w) token grid of one sample for M-RoPE (omni video/image), else None.
    """

    groups: torch.Tensor
    grid: tuple[int, int, int] | None = None


def unit_pixels(x: torch.Tensor) -> torch.Tensor:
    """Frames or images as floats in [0, 1]: uint8 (what the loaders send, 4x fewer bytes between
    processes) is scaled on whatever device it now sits on; floating input is taken as already scaled."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def normalise(frames: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(…, 3, S, S) in [0, 1] -> (x - mean) / std per channel."""
    m = torch.tensor(mean, dtype=frames.dtype, device=frames.device).view(3, 1, 1)
    s = torch.tensor(std, dtype=frames.dtype, device=frames.device).view(3, 1, 1)
    return (frames - m) / s


def fit_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (M, 3, S', S') to (M, 3, size, size) bilinearly when needed (encoders fix their input side)."""
    if frames.shape[-1] == size and frames.shape[-2] == size:
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)


def fit_mel(mel: torch.Tensor, frames: int) -> torch.Tensor:
    """Crop or pad (B, n_mels, F) to ``frames``; padding uses each sample's minimum.

    For Whisper features that minimum is the extractor's silence value ``(max - 8 + 4) / 4`` whenever the
    input holds any clamped frame (a clip padded to its chunk always does).
    """
    F_in = mel.shape[-1]
    if F_in >= frames:
        return mel[..., :frames]
    floor = mel.amin(dim=(1, 2), keepdim=True)  # (B, 1, 1)
    pad = floor.expand(-1, mel.shape[1], frames - F_in)  # (B, n_mels, frames - F)
    return torch.cat([mel, pad], dim=-1)
