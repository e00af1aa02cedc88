"""Turning the batch contract's media into patch sequences, and back to the configured sizes.

Batch contract (docs/architecture.md): `video` (B, T, 3, S, S) in [0, 1], `audio` log-mel (B, n_mels, F).
Real shards may differ in T, S or F from the backbone's configured sizes, so inputs are first fitted:
frames are resampled by nearest index, resized bilinearly; the spectrogram is average-pooled or
zero-padded in time. Mel bins must match (a different mel scale is a different input, not a size).

Patch order: video patch index = t·G² + r·G + c (G = S/P_v); audio patch index = t·n_freq + f
(time-major), so that whole-frequency time segments are contiguous index runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from crabplus.studies.continual.config import BackboneConfig

__all__ = ["fit_video", "fit_audio", "patchify_video", "patchify_audio"]


def fit_video(video: torch.Tensor, cfg: BackboneConfig) -> torch.Tensor:
    """Resample `video` (B, T, 3, S, S) to (B, cfg.num_frames, 3, cfg.image_size, cfg.image_size)."""
    b, t = video.shape[:2]
    if t != cfg.num_frames:
        idx = torch.linspace(0, t - 1, cfg.num_frames).round().long()
        video = video[:, idx]  # (B, T', 3, S, S)
    if video.shape[-1] != cfg.image_size or video.shape[-2] != cfg.image_size:
        flat = video.flatten(0, 1)  # (B·T', 3, S, S)
        flat = F.interpolate(
            flat, size=(cfg.image_size, cfg.image_size), mode="bilinear", align_corners=False
        )
        video = flat.unflatten(0, (b, cfg.num_frames))
    return video


def fit_audio(audio: torch.Tensor, cfg: BackboneConfig) -> torch.Tensor:
    """Fit log-mel `audio` (B, n_mels, F) to cfg.audio_frames frames.

    Longer spectrograms are average-pooled in time (the whole clip is kept, at a coarser hop); shorter
    ones are zero-padded at the end.

    Raises:
        ValueError: naming `audio` and `n_mels` when the mel count differs from the config.
    """
    if audio.shape[1] != cfg.n_mels:
        raise ValueError(f"batch 'audio' has {audio.shape[1]} mel bins, backbone.n_mels is {cfg.n_mels}")
    frames = audio.shape[2]
    if frames > cfg.audio_frames:
        return F.adaptive_avg_pool1d(audio, cfg.audio_frames)  # (B, n_mels, F')
    return F.pad(audio, (0, cfg.audio_frames - frames))


def patchify_video(video: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, T, 3, S, S) -> (B, T·G², 3·P·P) patches in (t, row, col) order."""
    b, t, c, s, _ = video.shape
    g = s // patch
    x = video.reshape(b, t, c, g, patch, g, patch)  # (B, T, 3, G, P, G, P)
    x = x.permute(0, 1, 3, 5, 2, 4, 6)  # (B, T, G, G, 3, P, P)
    return x.reshape(b, t * g * g, c * patch * patch)


def patchify_audio(audio: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, n_mels, F) -> (B, n_time·n_freq, P·P) patches, time-major (index t·n_freq + f)."""
    b, m, f = audio.shape
    nf, nt = m // patch, f // patch
    x = audio.reshape(b, nf, patch, nt, patch)  # (B, n_freq, P_m, n_time, P_t)
    x = x.permute(0, 3, 1, 4, 2)  # (B, n_time, n_freq, P_t, P_m)
    return x.reshape(b, nt * nf, patch * patch)
