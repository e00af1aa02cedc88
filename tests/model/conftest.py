"""Shared tiny models and media for the model tests (built once per session: they are read-only there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crabplus.model import build_avllm


@pytest.fixture(scope="session")
def tiny_modular():
    return build_avllm("tiny-modular").eval()


@pytest.fixture(scope="session")
def tiny_omni():
    return build_avllm("tiny-omni").eval()


@pytest.fixture(scope="session")
def crab_llama2_from_parts():
    """Factory of crab-llama2 models loaded from a tiny reference's saved parts (see ``build_crab_llama2_from``)."""
    return build_crab_llama2_from


@pytest.fixture(scope="session")
def media():
    """Factory of random media in the tiny presets' format."""
    return make_media


def make_media(batch: int, seed: int = 1, n_mels: int = 64, frames: int = 400) -> dict[str, torch.Tensor]:
    """Random media in the tiny presets' format: video (B, 4, 3, 32, 32), audio (B, n_mels, F), image (B, 3, 32, 32)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "video": torch.rand(batch, 4, 3, 32, 32, generator=g),
        "audio": torch.randn(batch, n_mels, frames, generator=g),
        "image": torch.rand(batch, 3, 32, 32, generator=g),
    }


TINY_MEDIA_SHAPES = ("num_frames", "tokens_per_frame", "audio_windows", "tokens_per_window", "mel_frames")


def build_crab_llama2_from(
    ref, folder: Path, audio_path: Path | None = None, match_ref_shapes: bool = False, **overrides
):
    """The crab-llama2 preset's real loading code on ``ref``'s parts saved under ``folder`` (never the hub).

    ``ref`` (tiny-modular with a Q-Former) saves its LM and tokenizer to ``llm/``, its CLIP to ``clip/`` and,
    unless ``audio_path`` names another audio checkpoint (BEATs' single file), its Whisper to ``whisper/``.
    Q-Former and mask head take the tiny sizes; ``match_ref_shapes`` gives the preset ``ref``'s frame and
    audio-window counts, tokens per frame and window and mel frames; ``overrides`` go to the preset as they are.
    """
    if match_ref_shapes:
        overrides = {**{name: getattr(ref.config, name) for name in TINY_MEDIA_SHAPES}, **overrides}
    ref.language_model.save_pretrained(folder / "llm")
    ref.tokenizer.save_pretrained(folder / "llm")
    ref.vision_encoder.save_pretrained(folder / "clip")
    if audio_path is None:
        ref.audio_encoder.save_pretrained(folder / "whisper")
        audio_path, overrides = folder / "whisper", {"audio_tower": "whisper", **overrides}
    return build_avllm(
        "crab-llama2",
        llm_path=str(folder / "llm"),
        vision_path=str(folder / "clip"),
        audio_path=str(audio_path),
        qformer_dim=32,
        qformer_heads=2,
        mask_dim=32,
        **overrides,
    )
