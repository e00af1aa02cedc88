"""``AVLLMConfig``: everything besides the HF sub-model configs needed to rebuild an ``AVLLM``.

Notation: T frames per clip, S frame side (pixels), F log-mel frames per clip, G groups (frames or audio
windows), N tokens per group after the connector, d LM width.

Why a dataclass: it is data (saved as ``avllm_config.json`` beside every checkpoint), its defaults
document the tiny presets, and ``media_spec`` derives from it so the data side can match it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from crabplus.config_blocks import as_config

__all__ = ["AVLLMConfig", "CLIP_MEAN", "CLIP_STD"]

#: OpenAI CLIP normalisation (also used by Qwen2-VL / Qwen2.5-Omni's vision tower).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class AVLLMConfig:
    """Configuration of an AV-LLM (HF sub-model configs live in their own folders).

    Attributes:
        paradigm: "modular" (separate encoders + connectors, Crab) or "omni" (Qwen2.5-Omni thinker, Crab+).
        num_frames: T, frames per video clip.
        frame_size: S, frames and images are (3, S, S) in [0, 1].
        n_mels: mel bins of the audio features.
        audio_features: the audio tower's front end, computed by the data side: "whisper" (the
            ``WhisperFeatureExtractor`` log-mel: log10, clamped to max - 8, (x + 4) / 4, over the clip
            zero-padded to ``encoder_mel_frames``) or "fbank" (BEATs' normalised Kaldi fbank).
        mel_frames: F, log-mel frames per clip (hop 160 at 16 kHz: 100 frames per second).
        sample_rate: waveform rate the log-mel was computed at (Hz).
        hop_length: STFT hop of the log-mel (samples).
        encoder_mel_frames: the feature extractor's chunk in frames (Whisper and Qwen2.5-Omni: 3000, 30 s).
            A Whisper tower takes all of them (2 * max_source_positions) and only the clip's own output
            frames are kept; the omni tower takes the clip's ``mel_frames`` of them.
        tokens_per_frame: N for video frames and images (modular: pooled patch grid side² or Q-Former queries).
        audio_windows: G for audio: the clip's encoder output is split into this many windows (Crab: 1 s each).
        tokens_per_window: N for audio windows.
        connector: "mlp" (pool then Linear-GELU-Linear) or "qformer" (learned queries + cross-attention).
        qformer_dim / qformer_layers / qformer_heads: Q-Former width, depth and heads.
        audio_pool: omni only, average-pool factor on the audio tower output (1 = keep every token).
        mask_head: whether the model has a segmentation head fed by the ``<mask>`` hidden state.
        mask_dim: width of the mask head.
        mask_bce_weight / mask_dice_weight: weights of BCE and Dice in the mask loss (Crab: 1.0 and 0.5).
        mask_loss_weight: weight of the mask loss added to the LM loss.
        mask_source_frame: frame of the video used by the mask head when no image is given.
        loss_reduction: how the LM loss averages answer tokens: "token" (every token of the batch alike,
            HF's convention) or "sample" (each sample's mean, then the batch mean: short answers are not
            drowned by long ones in a multitask batch).
        add_bos: prepend the tokenizer's BOS (if it has one) to prompts (plain format only).
        chat_template: wrap each prompt in the tokenizer's chat template (system + user turn, generation
            prompt) as a pretrained chat LM expects; the answer, then EOS, follows it. Real presets: True.
        system_prompt: the system turn of the chat template.
        native_media_tokens: omni only: each media block is the thinker's own ``<|vision_bos|>`` +
            ``<|VIDEO|>``×N + ``<|vision_eos|>`` (``<|audio_bos|>``/``<|AUDIO|>``, ``<|IMAGE|>`` likewise),
            the sequence ``Qwen2_5OmniProcessor`` builds, instead of the features alone.
        lm_class / vision_class / audio_class: transformers class names, used by ``load_avllm``.
    """

    paradigm: str = "modular"
    num_frames: int = 4
    frame_size: int = 32
    n_mels: int = 64
    audio_features: str = "whisper"
    mel_frames: int = 400
    sample_rate: int = 16000
    hop_length: int = 160
    encoder_mel_frames: int = 400
    tokens_per_frame: int = 4
    audio_windows: int = 4
    tokens_per_window: int = 4
    connector: str = "mlp"
    qformer_dim: int = 32
    qformer_layers: int = 2
    qformer_heads: int = 2
    audio_pool: int = 1
    mask_head: bool = True
    mask_dim: int = 32
    mask_bce_weight: float = 1.0
    mask_dice_weight: float = 0.5
    mask_loss_weight: float = 1.0
    mask_source_frame: int = 0
    loss_reduction: str = "token"
    add_bos: bool = True
    chat_template: bool = False
    system_prompt: str = ""
    native_media_tokens: bool = False
    lm_class: str = ""
    vision_class: str = ""
    audio_class: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.paradigm not in ("modular", "omni"):
            raise ValueError(f"AVLLMConfig.paradigm={self.paradigm!r}; valid: 'modular', 'omni'")
        if self.connector not in ("mlp", "qformer"):
            raise ValueError(f"AVLLMConfig.connector={self.connector!r}; valid: 'mlp', 'qformer'")
        if self.audio_features not in ("whisper", "fbank"):
            raise ValueError(f"AVLLMConfig.audio_features={self.audio_features!r}; valid: 'whisper', 'fbank'")
        if self.loss_reduction not in ("token", "sample"):
            raise ValueError(f"AVLLMConfig.loss_reduction={self.loss_reduction!r}; valid: 'token', 'sample'")

    @property
    def clip_seconds(self) -> float:
        """Clip duration implied by the log-mel length (seconds)."""
        return self.mel_frames * self.hop_length / self.sample_rate

    def media_spec(self) -> dict[str, Any]:
        """What the data side must produce for this model (see ``AVLLM.media_spec``)."""
        return {
            "num_frames": self.num_frames,
            "frame_size": self.frame_size,
            "n_mels": self.n_mels,
            "mel_frames": self.mel_frames,
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "clip_seconds": self.clip_seconds,
            "audio_features": self.audio_features,
            **self._whisper_chunk(),
        }

    def _whisper_chunk(self) -> dict[str, Any]:
        """The chunk the "whisper" features are computed over and the frames of it the tower reads."""
        if self.audio_features != "whisper":
            return {}
        kept = self.encoder_mel_frames if self.paradigm == "modular" else self.mel_frames
        return {
            "chunk_seconds": self.encoder_mel_frames * self.hop_length / self.sample_rate,
            "feature_frames": kept,
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AVLLMConfig:
        """Build from a dict, naming unknown keys and wrong types instead of silently taking them."""
        return as_config(cls, data, "AVLLMConfig")
