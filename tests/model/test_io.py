"""save_pretrained -> load_avllm, and the real-weight presets' from_pretrained paths on tiny checkpoints."""

from __future__ import annotations

import pytest
import torch

from crabplus.model import build_avllm, load_avllm


def logits(model, media):
    enc = model.tokenize(["<video> see <audio> hear", "<audio> only"], ["<answer>a</answer>", "b"])
    with torch.no_grad():
        return model(**enc, video=media["video"], audio=media["audio"]).logits


@pytest.mark.integration
@pytest.mark.parametrize(
    "preset,overrides", [("tiny-modular", {}), ("tiny-modular", {"connector": "qformer"}), ("tiny-omni", {})]
)
def test_save_load_identical(preset: str, overrides: dict, tmp_path, media) -> None:
    model = build_avllm(preset, seed=3, **overrides).eval()
    for p in (*model.vision_connector.parameters(), *model.audio_connector.parameters()):
        p.data.add_(0.01)  # make sure trained connectors, not fresh ones, come back
    model.save_pretrained(tmp_path)
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt"))
    loaded = load_avllm(tmp_path).eval()
    m = media(2)
    torch.testing.assert_close(logits(loaded, m), logits(model, m))
    assert loaded.config == model.config


@pytest.mark.integration
def test_crab_llama2_preset_from_tiny_checkpoints(tmp_path, media, crab_llama2_from_parts) -> None:
    """The crab-llama2 loading code on tiny LM/CLIP/Whisper saved with save_pretrained (never the hub)."""
    ref = build_avllm(
        "tiny-modular",
        connector="qformer",
        num_frames=4,
        tokens_per_frame=4,
        audio_windows=4,
        tokens_per_window=4,
        mel_frames=400,
    ).eval()
    model = crab_llama2_from_parts(
        ref,
        tmp_path,
        match_ref_shapes=True,
        chat_template=False,  # the tiny reference uses the plain prompt format
        extra={"vision_feature_layer": -1},
    ).eval()
    model.vision_connector.load_state_dict(ref.vision_connector.state_dict())
    model.audio_connector.load_state_dict(ref.audio_connector.state_dict())
    assert model.config.frame_size == 32 and model.config.n_mels == 64
    m = media(2)
    torch.testing.assert_close(logits(model, m), logits(ref, m))


@pytest.mark.integration
def test_omni_preset_from_tiny_thinker(tmp_path, media) -> None:
    """The qwen2.5-omni-7b loading code on a tiny thinker saved with save_pretrained."""
    ref = build_avllm("tiny-omni").eval()
    ref.language_model.save_pretrained(tmp_path / "omni")
    ref.tokenizer.save_pretrained(tmp_path / "omni")
    model = build_avllm(
        "qwen2.5-omni-7b",
        omni_path=str(tmp_path / "omni"),
        num_frames=4,
        frame_size=32,
        mel_frames=400,
        audio_pool=10,
        add_bos=True,
        chat_template=False,  # the tiny reference uses the plain prompt format
        mask_dim=32,
    ).eval()
    assert model.vision_encoder is model.language_model.model.visual
    assert model.media_token_counts == ref.media_token_counts
    m = media(2)
    torch.testing.assert_close(logits(model, m), logits(ref, m))
