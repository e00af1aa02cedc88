"""Modular (Crab-style) media encoding: CLIP/SigLIP frames, Whisper audio windows.

Notation: B batch, T frames, S side, P patches per frame, F log-mel frames, c encoder width,
G audio windows, W encoder frames per window.

Decisions: frames are normalised inside the model (CLIP or SigLIP statistics by encoder class);
vision features come from ``hidden_states[vision_feature_layer]`` without the CLS token (LLaVA/Crab
take the penultimate layer); Whisper needs exactly ``2 * max_source_positions`` input frames: the data
side gives the feature extractor's whole chunk (the clip zero-padded to 30 s, as Whisper was trained),
shorter input is padded with its silence value, and only the clip's own output frames (F/2) are kept and
split into G equal windows (Crab: one 1-s window per group).
"""

from __future__ import annotations

import torch
from torch import nn

from crabplus.model._config import CLIP_MEAN, CLIP_STD
from crabplus.model._media import Encoded, fit_frames, fit_mel, normalise

__all__ = ["ModularMedia"]

SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)


class ModularMedia:
    """Stateless encoding policy of the modular paradigm (the encoders are passed in)."""

    def __init__(self, config, vision_encoder: nn.Module | None) -> None:
        self.config = config
        siglip = "Siglip" in type(vision_encoder).__name__ if vision_encoder is not None else False
        self.mean, self.std = (SIGLIP_MEAN, SIGLIP_STD) if siglip else (CLIP_MEAN, CLIP_STD)
        self.has_cls = not siglip
        self.layer = int(config.extra.get("vision_feature_layer", -1))

    def _frames(self, encoder: nn.Module, frames: torch.Tensor) -> torch.Tensor:
        """(M, 3, S, S) in [0, 1] -> (M, P, c) patch features."""
        size = encoder.config.image_size
        pixels = normalise(fit_frames(frames, size), self.mean, self.std)  # (M, 3, S_enc, S_enc)
        pixels = pixels.to(next(encoder.parameters()).dtype)
        out = encoder(pixel_values=pixels, output_hidden_states=True)
        feats = out.hidden_states[self.layer]  # (M, 1 + P, c) for CLIP
        return feats[:, 1:] if self.has_cls else feats  # (M, P, c)

    def encode_video(self, encoder: nn.Module, video: torch.Tensor) -> Encoded:
        B, T = video.shape[:2]
        feats = self._frames(encoder, video.flatten(0, 1))  # (B·T, P, c)
        return Encoded(feats.reshape(B, T, *feats.shape[1:]))  # (B, T, P, c)

    def encode_image(self, encoder: nn.Module, image: torch.Tensor) -> Encoded:
        return Encoded(self._frames(encoder, image)[:, None])  # (B, 1, P, c)

    def encode_audio(self, encoder: nn.Module, audio: torch.Tensor) -> Encoded:
        """(B, n_mels, F) log-mel -> (B, G, W, c) windows of encoder frames."""
        cfg = self.config
        enc_frames = 2 * encoder.config.max_source_positions
        clip_frames = min(audio.shape[-1], cfg.mel_frames, enc_frames)
        mel = fit_mel(audio, enc_frames).to(next(encoder.parameters()).dtype)  # (B, n_mels, F_enc)
        hidden = encoder(input_features=mel).last_hidden_state  # (B, F_enc / 2, c)
        keep = (clip_frames + 1) // 2
        window = max(keep // cfg.audio_windows, 1)
        hidden = hidden[:, : window * cfg.audio_windows]  # (B, G·W, c)
        return Encoded(hidden.reshape(hidden.shape[0], cfg.audio_windows, window, -1))  # (B, G, W, c)

    def token_counts(self) -> dict[str, int]:
        cfg = self.config
        return {
            "video": cfg.num_frames * cfg.tokens_per_frame,
            "audio": cfg.audio_windows * cfg.tokens_per_window,
            "image": cfg.tokens_per_frame,
        }

    def position_ids(
        self, attention_mask: torch.Tensor, modality_ids: torch.Tensor, grids: dict
    ) -> torch.Tensor:
        """1-D positions counting real tokens only, so left padding does not shift them. (B, L')"""
        return (attention_mask.long().cumsum(1) - 1).clamp(min=0)

    def mask_features(self, encoded: Encoded, frame: int) -> torch.Tensor:
        """(B, P, c) patch features of one frame for the mask head."""
        return encoded.groups[:, min(frame, encoded.groups.shape[1] - 1)]
