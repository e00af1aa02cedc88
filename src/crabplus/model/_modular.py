"""Modular (Crab-style) media encoding: CLIP/SigLIP frames, Whisper or BEATs audio windows.

Notation: B batch, T frames, S side, P patches per frame, F log-mel frames, c encoder width,
G audio windows, W encoder frames per window.

Decisions: frames are normalised inside the model (CLIP or SigLIP statistics by encoder class);
vision features come from ``hidden_states[vision_feature_layer]`` without the CLS token (LLaVA/Crab
take the penultimate layer); Whisper needs exactly ``2 * max_source_positions`` input frames: the data
side gives the feature extractor's whole chunk (the clip zero-padded to 30 s, as Whisper was trained),
shorter input is padded with its silence value, and only the clip's own output frames (F/2) are kept and
split into G equal windows (Crab: one 1-s window per group). BEATs (Crab's own tower) encodes each
window's fbank on its own, as Crab does per 1-s segment.
"""

from __future__ import annotations

import torch
from torch import nn

from crabplus.model._config import CLIP_MEAN, CLIP_STD
from crabplus.model._media import Encoded, fit_frames, fit_mel, normalise

__all__ = ["ModularMedia"]

SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)
KALDI_FRAME_MS = 25  # BEATs' fbank frame (the data side's kaldi_fbank default)


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

    def beats_window(self) -> tuple[int, int]:
        """(stride, length) in fbank frames of one of the G windows BEATs encodes on its own.

        Crab computes the fbank of each 1-s segment apart; Kaldi frames are independent (25 ms every
        10 ms, no padding), so segment j's fbank is frames ``[j·stride, j·stride + length)`` of the clip's:
        ``length = 1 + (segment samples - 25 ms) // hop`` (98 for 1 s at 16 kHz).
        """
        cfg = self.config
        stride = cfg.mel_frames // cfg.audio_windows
        frame = cfg.sample_rate * KALDI_FRAME_MS // 1000
        return stride, 1 + (stride * cfg.hop_length - frame) // cfg.hop_length

    def encode_audio(self, encoder: nn.Module, audio: torch.Tensor) -> Encoded:
        """(B, n_mels, F) audio features -> (B, G, W, c) windows of encoder tokens."""
        cfg = self.config
        if cfg.audio_features == "fbank":
            return self._encode_fbank_windows(encoder, audio)
        enc_frames = 2 * encoder.config.max_source_positions
        clip_frames = min(audio.shape[-1], cfg.mel_frames, enc_frames)
        mel = fit_mel(audio, enc_frames).to(next(encoder.parameters()).dtype)  # (B, n_mels, F_enc)
        hidden = encoder(input_features=mel).last_hidden_state  # (B, F_enc / 2, c)
        keep = (clip_frames + 1) // 2
        window = max(keep // cfg.audio_windows, 1)
        hidden = hidden[:, : window * cfg.audio_windows]  # (B, G·W, c)
        return Encoded(hidden.reshape(hidden.shape[0], cfg.audio_windows, window, -1))  # (B, G, W, c)

    def _encode_fbank_windows(self, encoder: nn.Module, audio: torch.Tensor) -> Encoded:
        """BEATs: each window's fbank (B·G, length, n_mels) through the encoder -> (B, G, N_w, c)."""
        G = self.config.audio_windows
        stride, length = self.beats_window()
        fbank = fit_mel(audio, (G - 1) * stride + length)  # (B, n_mels, F')
        windows = torch.stack([fbank[..., j * stride : j * stride + length] for j in range(G)], dim=1)
        x = (
            windows.transpose(2, 3).flatten(0, 1).to(next(encoder.parameters()).dtype)
        )  # (B·G, length, n_mels)
        hidden = encoder(input_features=x).last_hidden_state  # (B·G, N_w, c)
        return Encoded(hidden.reshape(audio.shape[0], G, *hidden.shape[1:]))

    def audio_encoder_tokens(self, encoder: nn.Module) -> int:
        """Tokens one clip puts through the audio encoder (before the connector)."""
        if self.config.audio_features == "fbank":
            return self.config.audio_windows * encoder.tokens_per_input(self.beats_window()[1])
        return self.config.encoder_mel_frames // 2

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
