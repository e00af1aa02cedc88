"""Preset registry, media spec/token counts, trainable modes, modality parameters (every preset)."""

from __future__ import annotations

import pytest
import torch

from crabplus.model import PRESETS, TRAINABLE_MODES, build_avllm, preset_names, register_preset, set_trainable

TINY = ["tiny-modular", "tiny-omni"]


@pytest.mark.unit
def test_registry() -> None:
    assert preset_names() == sorted(["tiny-modular", "tiny-omni", "crab-llama2", "qwen2.5-omni-7b"])
    with pytest.raises(ValueError, match="already registered"):
        register_preset("tiny-modular")(lambda: None)
    with pytest.raises(KeyError, match="valid: .*tiny-omni"):
        build_avllm("nope")
    with pytest.raises(TypeError, match="unknown overrides \\['bogus'\\]"):
        build_avllm("tiny-modular", bogus=1)
    assert set(PRESETS) == set(preset_names())


@pytest.mark.integration
@pytest.mark.parametrize("preset", TINY)
def test_media_spec_and_token_counts(preset: str, media) -> None:
    """media_token_counts is what splicing actually produces; overrides reach the media spec."""
    model = build_avllm(preset, num_frames=6, frame_size=48, mel_frames=300, encoder_mel_frames=300).eval()
    spec = model.media_spec
    assert (spec["num_frames"], spec["frame_size"], spec["mel_frames"], spec["n_mels"]) == (6, 48, 300, 64)
    assert spec["sample_rate"] == 16000 and spec["clip_seconds"] == pytest.approx(3.0)
    m = {
        "video": torch.rand(1, 6, 3, 48, 48),
        "audio": torch.randn(1, 64, 300),
        "image": torch.rand(1, 3, 48, 48),
    }
    enc = model.tokenize(["<video><audio><image>"])
    with torch.no_grad():
        sp, _, _ = model.prepare_inputs(enc["input_ids"], enc["attention_mask"], **m)
    for name, kind in (("video", 1), ("audio", 2), ("image", 3)):
        assert int((sp.modality_ids == kind).sum()) == model.media_token_counts[name], name
    assert sum(model.media_token_counts.values()) <= 100


@pytest.mark.integration
@pytest.mark.parametrize("preset", TINY)
def test_set_trainable_and_modality_parameters(preset: str) -> None:
    model = build_avllm(preset)
    total = sum(p.numel() for p in model.parameters())
    assert set_trainable(model, "full") == total
    conn = sum(
        p.numel()
        for name in ("vision_connector", "audio_connector", "mask_head")
        for p in getattr(model, name).parameters()
    )
    assert set_trainable(model, "connectors") == conn
    assert all(
        p.requires_grad == n.startswith(("vision_connector", "audio_connector", "mask_head"))
        for n, p in model.named_parameters()
    )
    assert set_trainable(model, "adapters") == 0  # no adapters injected yet
    assert set_trainable(model, "adapters+connectors") == conn
    with pytest.raises(ValueError, match="valid"):
        set_trainable(model, "nope")
    assert set(TRAINABLE_MODES) == {"full", "connectors", "adapters", "adapters+connectors"}
    groups = model.modality_parameters()
    ids = {k: {id(p) for p in v} for k, v in groups.items()}
    assert ids["video"] == {
        id(p) for m in (model.vision_encoder, model.vision_connector) for p in m.parameters()
    }
    assert ids["audio"] == {
        id(p) for m in (model.audio_encoder, model.audio_connector) for p in m.parameters()
    }
    names = {n for n, _ in model.named_parameters()}
    assert any(n.startswith("vision_encoder.") for n in names) and any(
        n.startswith("audio_encoder.") for n in names
    )


def _tone_mel(bin_index: int) -> torch.Tensor:
    """A steady tone in Whisper's log-mel scale: floor -1 everywhere, +1 on one mel bin. (1, 64, 400)"""
    mel = torch.full((1, 64, 400), -1.0)
    mel[:, bin_index] = 1.0
    return mel


@pytest.mark.unit
def test_tiny_audio_encoder_tells_tones_apart() -> None:
    """The random audio encoder's input convolutions are fan-in scaled, so two tones give clearly different
    pooled features; with HF's std-0.02 init the sinusoidal positions drown the content."""
    import math

    from crabplus.model._presets import _fan_in_audio_convs

    model = build_avllm("tiny-modular").eval()
    enc = model.audio_encoder
    assert math.isclose(float(enc.conv1.weight.detach().std()), math.sqrt(2 / (64 * 3)), rel_tol=1e-4)
    assert math.isclose(float(enc.conv2.weight.detach().std()), math.sqrt(2 / (32 * 3)), rel_tol=1e-4)

    def spread(encoder) -> float:
        with torch.no_grad():
            a, b = (encoder(input_features=_tone_mel(i)).last_hidden_state.mean(1) for i in (5, 40))
        return float((a - b).norm())

    with torch.no_grad():  # the same encoder with HF's init scale restored
        for conv in (enc.conv1, enc.conv2):
            conv.weight.mul_(0.02 / conv.weight.std())
    hf_spread = spread(enc)
    _fan_in_audio_convs(enc)
    assert spread(enc) > 5 * hf_spread
