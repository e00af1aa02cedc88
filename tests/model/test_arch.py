"""Shipped architecture configs, ``init: meta`` builds and the weight-path pre-flight."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPConfig, Qwen2_5OmniThinkerConfig, WhisperConfig

from crabplus.model import ARCHITECTURES, WeightsPathError, arch_config, build_avllm, check_weights_path


@pytest.mark.unit
def test_shipped_configs_hold_the_model_cards_numbers():
    llama = arch_config("llama-2-7b-chat")
    assert (llama.hidden_size, llama.intermediate_size, llama.num_hidden_layers, llama.vocab_size) == (
        4096, 11008, 32, 32000,
    )  # fmt: skip
    clip, clip336 = arch_config("clip-vit-large-patch14"), arch_config("clip-vit-large-patch14-336")
    assert (clip.hidden_size, clip.num_hidden_layers, clip.patch_size, clip.image_size) == (1024, 24, 14, 224)
    assert clip336.image_size == 336 and clip336.hidden_size == 1024
    whisper = arch_config("whisper-large-v3")
    assert (whisper.d_model, whisper.encoder_layers, whisper.num_mel_bins, whisper.max_source_positions) == (
        1280, 32, 128, 1500,
    )  # fmt: skip
    thinker = arch_config("qwen2.5-omni-7b-thinker")
    # the vision tower's own width is 1280; transformers' default config says 3584 (its merger's output)
    assert Qwen2_5OmniThinkerConfig().vision_config.hidden_size != 1280
    assert (thinker.vision_config.hidden_size, thinker.vision_config.out_hidden_size) == (1280, 3584)
    assert (thinker.text_config.hidden_size, thinker.text_config.num_hidden_layers) == (3584, 28)
    assert (thinker.audio_config.d_model, thinker.audio_config.encoder_layers) == (1280, 32)
    assert thinker.text_config.num_key_value_heads == 4 and thinker.tie_word_embeddings is False
    # the media token ids the thinker's get_rope_index and our native-token check read
    ids = ("audio_token_id", "image_token_id", "video_token_id", "audio_start_token_id", "audio_end_token_id")
    assert [getattr(thinker, k) for k in ids] == [151646, 151655, 151656, 151647, 151648]
    assert (thinker.vision_start_token_id, thinker.vision_end_token_id) == (151652, 151653)
    with pytest.raises(KeyError, match="shipped"):
        arch_config("gpt-5")
    assert set(ARCHITECTURES) >= {"llama-2-7b-chat", "qwen2.5-omni-7b-thinker"}


@pytest.mark.integration
def test_a_download_folders_config_wins_over_the_shipped_one(tmp_path):
    """A full CLIP / Whisper download yields the sub-config the preset needs, with the download's numbers."""
    CLIPConfig(vision_config={"hidden_size": 48, "image_size": 64, "patch_size": 16}).save_pretrained(
        tmp_path / "clip"
    )
    WhisperConfig(d_model=40, encoder_layers=3).save_pretrained(tmp_path / "whisper")
    vision = arch_config("clip-vit-large-patch14", str(tmp_path / "clip"))
    assert type(vision).__name__ == "CLIPVisionConfig" and vision.hidden_size == 48
    assert arch_config("whisper-large-v3", str(tmp_path / "whisper")).encoder_layers == 3
    assert arch_config("whisper-large-v3", str(tmp_path / "absent")).encoder_layers == 32  # shipped


@pytest.mark.integration
def test_meta_build_needs_no_weights_and_holds_no_memory(tmp_path):
    model = build_avllm("crab-llama2", init="meta", llm_path=str(tmp_path / "not-downloaded-yet"))
    params = list(model.parameters())
    assert all(p.device.type == "meta" for p in params)
    assert 7.1e9 < sum(p.numel() for p in params) < 7.3e9  # LLaMA-2-7B + CLIP-L/14 + BEATs + Q-Formers
    assert model.config.extra["tokenizer_stand_in"] is True and model.config.frame_size == 224
    assert model.config.audio_features == "fbank" and model.config.n_mels == 128
    whisper = build_avllm("crab-llama2", init="meta", audio_tower="whisper").config
    assert whisper.encoder_mel_frames == 3000 and whisper.audio_features == "whisper"
    with pytest.raises(ValueError, match="init='weights'; valid"):
        build_avllm("crab-llama2", init="weights")
    bf16 = build_avllm("qwen2.5-omni-7b", init="meta", dtype="bfloat16")
    assert {p.dtype for p in bf16.language_model.parameters()} == {torch.bfloat16}  # towers included


@pytest.mark.unit
def test_preflight_messages(tmp_path):
    check_weights_path("omni_path", "Qwen/Qwen2.5-Omni-7B")  # a hub id passes: transformers resolves it
    with pytest.raises(WeightsPathError, match=r"^model_overrides\.llm_path is not set"):
        check_weights_path("llm_path", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsPathError, match=r"empty is not a model folder \(no config.json in it\)$"):
        check_weights_path("audio_path", str(tmp_path / "empty"))
    folder = tmp_path / "whisper"
    WhisperConfig().save_pretrained(folder)
    with pytest.raises(WeightsPathError, match="has config.json but no weights"):
        check_weights_path("audio_path", str(folder))
    (folder / "model.safetensors").write_bytes(b"")
    check_weights_path("audio_path", str(folder))


@pytest.mark.unit
def test_preflight_of_a_single_file_checkpoint(tmp_path):
    """BEATs' release is one .pt, not on the hub: a missing one is named as a file, even if it looks like an id."""
    for value in (str(tmp_path / "BEATs_iter3_plus_AS2M.pt"), "microsoft/BEATs_iter3_plus_AS2M.pt"):
        with pytest.raises(WeightsPathError) as err:
            check_weights_path("audio_path", value)
        assert (
            str(err.value)
            == f"model_overrides.audio_path: {value} does not exist; put the downloaded .pt file there"
        )
    (tmp_path / "BEATs_iter3_plus_AS2M.pt").write_bytes(b"")
    check_weights_path("audio_path", str(tmp_path / "BEATs_iter3_plus_AS2M.pt"))


@pytest.mark.unit
def test_beats_tower_refuses_a_hub_id(tmp_path):
    """A hub id passes the generic pre-flight, but BEATs cannot be fetched from the hub: one line, no load."""
    for name in ("llm", "clip"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
        (tmp_path / name / "model.safetensors").write_bytes(b"")
    with pytest.raises(WeightsPathError) as err:
        build_avllm("crab-llama2", llm_path=str(tmp_path / "llm"), vision_path=str(tmp_path / "clip"),
                    audio_path="microsoft/BEATs")  # fmt: skip
    assert str(err.value).startswith("model_overrides.audio_path: microsoft/BEATs is not a local file")
