"""Omni (Crab+-style) media encoding: the Qwen2.5-Omni thinker's own audio and vision towers.

Notation: B batch, T frames (padded to a multiple of the temporal patch t_p), S side, p patch, m spatial
merge, g = S / (p·m) merged grid side, F log-mel frames, d LM width.

Decision: we call the towers ourselves and splice their outputs with the same ``splice`` as the modular
paradigm (one placeholder token per modality, expanded by the model), instead of the thinker's own
"one placeholder per feature token" mechanism. That keeps ``tokenize``/``generate`` identical for both
paradigms and lets batches mix samples with and without a modality. What the thinker's processor would
do is reproduced here: CLIP normalisation, frames -> Qwen2-VL flattened patches with ``grid_thw``,
images repeated t_p times, log-mel concatenated along time with ``feature_lens``; and the thinker's
3-D M-RoPE positions are rebuilt for the spliced sequence (``position_ids``): text advances all three
axes together, a video/image block gets (time, row, column) indices starting after the preceding text,
audio advances like text. With ``config.native_media_tokens`` (the qwen2.5-omni-7b preset on a Qwen
tokenizer) the model's tokenize wraps each block in the thinker's ``<|vision_bos|>``/``<|audio_bos|>``
start and end tokens and the spliced ids are its ``<|VIDEO|>``/``<|AUDIO|>``/``<|IMAGE|>`` tokens, so ids
and positions equal what ``Qwen2_5OmniProcessor`` + ``get_rope_index`` give for video and audio as separate
blocks (tests/model/test_omni_sequence.py); the interleaved audio-in-video layout is not built.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from crabplus.model._config import CLIP_MEAN, CLIP_STD
from crabplus.model._media import Encoded, fit_frames, fit_mel, normalise
from crabplus.model._tokens import MODALITY_IDS

__all__ = ["OmniMedia", "to_qwen_patches"]


def to_qwen_patches(frames: torch.Tensor, patch: int, temporal: int, merge: int) -> torch.Tensor:
    """(B, T, C, H, W) normalised frames -> (B·t·h·w, C·t_p·p·p) in Qwen2-VL's processor order.

    t = T / t_p, h = H / p, w = W / p; patches are ordered (t, h/m, w/m, m, m) so that the tower's
    merger sees each m×m block contiguously (same permutation as ``Qwen2VLImageProcessor``).
    """
    B, T, C, H, W = frames.shape
    t, h, w = T // temporal, H // patch, W // patch
    x = frames.reshape(B, t, temporal, C, h // merge, merge, patch, w // merge, merge, patch)
    x = x.permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)  # (B, t, h/m, w/m, m, m, C, t_p, p, p)
    return x.reshape(B * t * h * w, C * temporal * patch * patch)


class OmniMedia:
    """Encoding policy of the omni paradigm (towers passed in; they output LM-width tokens)."""

    def __init__(self, config, vision_encoder: nn.Module, audio_encoder: nn.Module, lm_config) -> None:
        self.config = config
        vc = vision_encoder.config
        self.patch, self.temporal, self.merge = vc.patch_size, vc.temporal_patch_size, vc.spatial_merge_size
        unit = self.patch * self.merge
        self.side = max(round(config.frame_size / unit), 1) * unit  # tower input side, multiple of p·m
        self.grid_side = self.side // unit  # g
        self.pos_per_second = getattr(lm_config, "position_id_per_seconds", 25)

    def _vision(self, encoder: nn.Module, frames: torch.Tensor) -> Encoded:
        """(B, T, 3, S, S) in [0, 1] -> (B, t, g², d) merged tokens."""
        B, T = frames.shape[:2]
        pad = (-T) % self.temporal
        if pad:  # repeat the last frame, as the Qwen processor does
            frames = torch.cat([frames, frames[:, -1:].expand(-1, pad, -1, -1, -1)], dim=1)
        t = frames.shape[1] // self.temporal
        x = fit_frames(frames.flatten(0, 1), self.side)  # (B·T, 3, S', S')
        x = normalise(x, CLIP_MEAN, CLIP_STD).reshape(B, t * self.temporal, 3, self.side, self.side)
        pixels = to_qwen_patches(x, self.patch, self.temporal, self.merge)  # (B·t·h·w, C·t_p·p·p)
        side = self.side // self.patch
        grid_thw = torch.tensor([[t, side, side]] * B, device=frames.device)  # (B, 3)
        out = encoder(pixels.to(next(encoder.parameters()).dtype), grid_thw=grid_thw).pooler_output
        return Encoded(out.reshape(B, t, self.grid_side**2, -1), grid=(t, self.grid_side, self.grid_side))

    def encode_video(self, encoder: nn.Module, video: torch.Tensor) -> Encoded:
        return self._vision(encoder, video)

    def encode_image(self, encoder: nn.Module, image: torch.Tensor) -> Encoded:
        return self._vision(encoder, image[:, None].expand(-1, self.temporal, -1, -1, -1))

    def encode_audio(self, encoder: nn.Module, audio: torch.Tensor) -> Encoded:
        """(B, n_mels, F) log-mel -> (B, 1, F_out, d) with F_out = ((F - 1)//2 + 1 - 2)//2 + 1."""
        mel = fit_mel(audio, self.config.mel_frames)  # (B, n_mels, F)
        B, n_mels, F = mel.shape
        flat = mel.permute(1, 0, 2).reshape(n_mels, B * F)  # (n_mels, B·F) concatenated along time
        lens = torch.full((B,), F, dtype=torch.long, device=mel.device)
        after_cnn, _ = encoder._get_feat_extract_output_lengths(lens)
        flat = flat.to(next(encoder.parameters()).dtype)
        out = encoder(flat, feature_lens=lens, aftercnn_lens=after_cnn).last_hidden_state  # (B·F_out, d)
        return Encoded(out.reshape(B, 1, -1, out.shape[-1]))

    def token_counts(self) -> dict[str, int]:
        cfg = self.config
        t = math.ceil(cfg.num_frames / self.temporal)
        f_out = ((cfg.mel_frames - 1) // 2 + 1 - 2) // 2 + 1
        return {
            "video": t * self.grid_side**2,
            "audio": math.ceil(f_out / cfg.audio_pool),
            "image": self.grid_side**2,
        }

    def position_ids(
        self, attention_mask: torch.Tensor, modality_ids: torch.Tensor, grids: dict
    ) -> torch.Tensor:
        """3-D M-RoPE positions (3, B, L') of a spliced sequence (padding gets 1, as in the thinker)."""
        B, L = modality_ids.shape
        pos = torch.ones(3, B, L, dtype=torch.long, device=modality_ids.device)
        seconds_per_grid = self.temporal * self.config.clip_seconds / max(self.config.num_frames, 1)
        for b in range(B):
            idx = attention_mask[b].bool().nonzero().flatten()  # real positions, in order
            kinds, counts = torch.unique_consecutive(modality_ids[b, idx], return_counts=True)
            cur, start = 0, 0
            for kind, n in zip(kinds.tolist(), counts.tolist()):
                where = idx[start : start + n]
                block = self._block(kind, n, grids, seconds_per_grid, where.device)  # (3, n)
                pos[:, b, where] = block + cur
                cur = int(block.max()) + cur + 1
                start += n
        return pos

    def _block(self, kind: int, n: int, grids: dict, seconds_per_grid: float, device) -> torch.Tensor:
        """Positions (3, n) of one run of tokens, starting at 0."""
        grid_kind = {MODALITY_IDS["video"]: "video", MODALITY_IDS["image"]: "image"}.get(kind)
        if grid_kind is None or grids.get(grid_kind) is None:
            return torch.arange(n, device=device).expand(3, -1)  # text and audio: all axes advance together
        t, h, w = grids[grid_kind]
        step = seconds_per_grid if grid_kind == "video" else 0.0
        t_idx = (torch.arange(t, device=device) * step * self.pos_per_second).long()
        tt = t_idx.view(-1, 1, 1).expand(t, h, w).flatten()
        hh = torch.arange(h, device=device).view(1, -1, 1).expand(t, h, w).flatten()
        ww = torch.arange(w, device=device).view(1, 1, -1).expand(t, h, w).flatten()
        return torch.stack([tt, hh, ww])  # (3, t·h·w)

    def mask_features(self, encoded: Encoded, frame: int) -> torch.Tensor:
        """(B, g², d) merged tokens of the temporal patch that holds ``frame``."""
        return encoded.groups[:, min(frame // self.temporal, encoded.groups.shape[1] - 1)]
