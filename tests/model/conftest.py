"""Shared tiny models and media for the model tests (built once per session: they are read-only there)."""

from __future__ import annotations

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
