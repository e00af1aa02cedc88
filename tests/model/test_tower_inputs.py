"""Real towers get their real inputs: what reaches each tower equals its own preprocessor's output.

Audio: the data side's features of a waveform, through the model, vs ``WhisperFeatureExtractor`` (Whisper
tower: the whole padded chunk; Qwen2.5-Omni tower: the frames its processor's mask selects). Images: the
pixels reaching CLIP / SigLIP vs ``CLIPImageProcessor`` / ``SiglipImageProcessor`` (the omni tower's
patches vs ``Qwen2VLImageProcessor`` are in test_connectors.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crabplus.data.sample import MediaSpec, audio_features
from crabplus.model import build_avllm
from crabplus.model._modular import ModularMedia


def _wave(seconds: float = 4.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    noise = 0.02 * np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 660 * t) + noise).astype(np.float32)


def _captured_input(module: torch.nn.Module, run, key: str = "input_features") -> torch.Tensor:
    """The first input (keyword ``key`` or first positional) ``module`` receives while ``run()`` runs."""
    seen = []

    def hook(_mod, args, kwargs):
        seen.append(kwargs[key] if key in kwargs else args[0])

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            run()
    finally:
        handle.remove()
    return seen[0]


def _extract(wave: np.ndarray, chunk_s: int, mask: bool = False):
    from transformers import WhisperFeatureExtractor

    out = WhisperFeatureExtractor(feature_size=64, chunk_length=chunk_s)(
        wave, sampling_rate=16000, return_attention_mask=True, return_tensors="pt"
    )
    feats = out["input_features"][0]
    return feats[:, out["attention_mask"][0].bool()] if mask else feats


@pytest.mark.integration
def test_whisper_tower_reads_the_extractor_output() -> None:
    """A 4-s clip, a Whisper tower of 8-s chunks: the tower sees the extractor's 800 frames, padding included."""
    model = build_avllm("tiny-modular", encoder_mel_frames=800).eval()
    spec = MediaSpec.from_model(model.media_spec)
    assert (spec.chunk_samples, spec.feature_frames, spec.audio_features) == (128000, 800, "whisper")
    wave = _wave()
    audio = audio_features(torch.from_numpy(wave), spec)[None]  # (1, 64, 800)
    enc = model.tokenize(["Hear <audio> it"])
    seen = _captured_input(
        model.audio_encoder,
        lambda: model.prepare_inputs(enc["input_ids"], enc["attention_mask"], audio=audio),
    )
    expected = _extract(wave, 8)
    assert seen.shape == (1, *expected.shape)
    assert float((seen[0] - expected).abs().max()) <= 1e-4


@pytest.mark.integration
def test_omni_tower_reads_the_processor_frames() -> None:
    """Qwen2.5-Omni's processor pads to the chunk and keeps the clip's frames (its feature_attention_mask)."""
    model = build_avllm("tiny-omni", encoder_mel_frames=800).eval()
    spec = MediaSpec.from_model(model.media_spec)
    assert (spec.chunk_samples, spec.feature_frames) == (128000, 400)
    wave = _wave()
    audio = audio_features(torch.from_numpy(wave), spec)[None]  # (1, 64, 400)
    enc = model.tokenize(["Hear <audio> it"])
    seen = _captured_input(
        model.audio_encoder,
        lambda: model.prepare_inputs(enc["input_ids"], enc["attention_mask"], audio=audio),
    )
    expected = _extract(wave, 8, mask=True)  # (64, 400)
    assert seen.shape == expected.shape
    assert float((seen - expected).abs().max()) <= 1e-4


def _image(side: int = 32) -> np.ndarray:
    return (np.random.default_rng(1).random((side, side, 3)) * 255).astype(np.uint8)


@pytest.mark.integration
@pytest.mark.parametrize("tower", ["clip", "siglip"])
def test_vision_tower_pixels_equal_its_processor(tower: str) -> None:
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    kw = {"image_size": 32, "patch_size": 8, "hidden_size": 16, "intermediate_size": 32}
    kw.update(num_hidden_layers=1, num_attention_heads=2)
    if tower == "clip":
        encoder = CLIPVisionModel(CLIPVisionConfig(**kw)).eval()
        processor = CLIPImageProcessor(do_resize=False, do_center_crop=False)  # OpenAI CLIP mean/std
    else:
        encoder = SiglipVisionModel(SiglipVisionConfig(**kw)).eval()
        processor = SiglipImageProcessor(do_resize=False)
    img = _image()
    expected = processor(images=[img], return_tensors="pt")["pixel_values"]  # (1, 3, 32, 32)
    media = ModularMedia(build_avllm("tiny-modular").config, encoder)
    frames = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    seen = _captured_input(encoder, lambda: media.encode_image(encoder, frames), "pixel_values")
    assert float((seen - expected).abs().max()) <= 1e-4


@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_byte_pixels_encode_like_unit_floats(preset: str, request) -> None:
    """The loaders send uint8 frames; the model's features equal those of the same frames as [0, 1] floats
    (the path before, when workers converted), for video and images alike."""
    model = request.getfixturevalue(preset)
    g = torch.Generator().manual_seed(3)
    video = torch.randint(0, 256, (2, 4, 3, 32, 32), generator=g, dtype=torch.uint8)
    image = torch.randint(0, 256, (2, 3, 32, 32), generator=g, dtype=torch.uint8)
    with torch.no_grad():
        as_bytes, _ = model.encode_media(video=video, image=image)
        as_floats, _ = model.encode_media(video=video.float() / 255, image=image.float() / 255)
    assert set(as_bytes) == {"video", "image"}
    for name in as_bytes:
        assert torch.equal(as_bytes[name], as_floats[name]), name
