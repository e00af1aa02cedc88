"""Typed configuration of the continual audio-video pre-training module (STELLA).

Defaults are the paper's where they are scale-free (ratios, temperatures, loss weights) and tiny where
they are sizes, so that the whole study runs on two CPU cores. YAMLs state only what differs.

Notation: L_V video patches (T·(S/P_v)²), L_A audio patches (n_time·n_freq, time-major), K kept counts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BackboneConfig", "StellaConfig", "MethodConfig", "METHODS", "method_config"]


@dataclass
class BackboneConfig:
    """Sizes of the CAV-MAE-style backbone, scaled down.

    Attributes:
        num_frames: frames T the video is resampled to (paper: 4).
        image_size: side S frames are resized to, in pixels.
        video_patch: square video patch side P_v in pixels (paper: 16).
        n_mels: mel bins the log-mel spectrogram must have (rows of `audio`).
        audio_frames: spectrogram frames F the audio is cropped / padded to.
        audio_patch: square audio patch side in (frames, bins) (paper: 16).
        dim: encoder width d.
        heads: encoder attention heads.
        depth_specific: modality-specific layers (paper: 10).
        depth_shared: shared layers with modality-specific output norms (paper: 2).
        decoder_dim: MAE decoder width.
        decoder_depth: MAE decoder layers (paper: 8).
        mask_ratio: MAE masking ratio of the full length L (paper: 0.8, audio and video).
        contrastive_temperature: InfoNCE temperature (paper: 0.05).
    """

    num_frames: int = 4
    image_size: int = 32
    video_patch: int = 8
    n_mels: int = 32
    audio_frames: int = 64
    audio_patch: int = 8
    dim: int = 64
    heads: int = 4
    depth_specific: int = 2
    depth_shared: int = 1
    decoder_dim: int = 64
    decoder_depth: int = 2
    mask_ratio: float = 0.8
    contrastive_temperature: float = 0.05

    @property
    def video_grid(self) -> int:
        """Patches per frame side, S / P_v."""
        return self.image_size // self.video_patch

    @property
    def num_video_patches(self) -> int:
        """L_V = T · (S/P_v)²."""
        return self.num_frames * self.video_grid**2

    @property
    def audio_freq_patches(self) -> int:
        """n_freq = n_mels / P_a (frequency patches per time step)."""
        return self.n_mels // self.audio_patch

    @property
    def audio_time_patches(self) -> int:
        """n_time = F / P_a."""
        return self.audio_frames // self.audio_patch

    @property
    def num_audio_patches(self) -> int:
        """L_A = n_time · n_freq; audio patch index = t·n_freq + f (time-major)."""
        return self.audio_time_patches * self.audio_freq_patches


@dataclass
class StellaConfig:
    """STELLA hyper-parameters.

    Attributes:
        video_drop_ratio: ρ_v; K_v = ⌊L_V(1−ρ_v)⌋ patches are kept (paper 0.5).
        audio_drop_ratio: ρ_a; K_a = ⌊L_A(1−ρ_a)⌋ (paper 0.5).
        att_temperature: τ of the importance softmax (paper 0.4).
        audio_chunk_width: W time patches per audio chunk (paper 4).
        avm_dim: width of the AVM ("multimodal encoder") projections.
        avm_heads: AVM heads H.
        distill_weight: α of the embedding-distillation penalty on replayed samples (paper 0.5).
        vam_weight: weight of the audio-video matching loss (paper 1.0).
        contrastive_weight: weight of InfoNCE (paper 0.1).
        memory_size: replay buffer capacity M in clips (paper 2000).
        replay_batch: replayed clips per step; 0 means "same as the current batch" (paper).
    """

    video_drop_ratio: float = 0.5
    audio_drop_ratio: float = 0.5
    att_temperature: float = 0.4
    audio_chunk_width: int = 4
    avm_dim: int = 32
    avm_heads: int = 2
    distill_weight: float = 0.5
    vam_weight: float = 1.0
    contrastive_weight: float = 0.1
    memory_size: int = 2000
    replay_batch: int = 0


@dataclass(frozen=True)
class MethodConfig:
    """What a continual method switches on; every baseline is the same step with other flags.

    Attributes:
        replay: draw a replay batch from the reservoir buffer and train on it too (ER and up).
        distill: add the DER++-style embedding distillation on replayed clips (STELLA step 8).
        selection: score patches with the AVM and feed only the selected ones (STELLA steps 1-7).
    """

    replay: bool
    distill: bool
    selection: bool


METHODS: dict[str, MethodConfig] = {
    "finetune": MethodConfig(replay=False, distill=False, selection=False),
    "er": MethodConfig(replay=True, distill=False, selection=False),
    "stella": MethodConfig(replay=True, distill=True, selection=True),
    "stella_noselect": MethodConfig(replay=True, distill=True, selection=False),
}


def method_config(name: str) -> MethodConfig:
    """Look up a method by name; the error lists the valid names."""
    if name not in METHODS:
        raise KeyError(f"unknown continual method {name!r}; valid: {sorted(METHODS)}")
    return METHODS[name]
