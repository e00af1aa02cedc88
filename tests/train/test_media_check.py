"""The data's audio front end must be the one the model's audio tower reads; a mismatch stops at setup."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from crabplus.data import MediaSpec
from crabplus.errors import ConfigError
from crabplus.model import build_avllm
from crabplus.plan.cli import load_config

SCALE = Path(__file__).resolve().parents[2] / "configs" / "scale"


@pytest.mark.integration
def test_mismatches_are_named() -> None:
    tiny = build_avllm("tiny-modular").media_spec
    assert MediaSpec(n_mels=64, clip_seconds=4.0).audio_mismatches(tiny) == []
    wide = build_avllm("tiny-modular", encoder_mel_frames=800).media_spec  # an 8-s extractor chunk
    assert MediaSpec(n_mels=64, clip_seconds=4.0).audio_mismatches(wide) == [
        "chunk_seconds=4 (the model's extractor pads to 8 s)",
        "feature_frames=400 (the model reads 800)",
    ]
    assert MediaSpec(n_mels=64, clip_seconds=4.0, chunk_seconds=8.0).audio_mismatches(wide) == []
    beats = {**tiny, "audio_features": "fbank", "n_mels": 128}
    assert MediaSpec(n_mels=64).audio_mismatches(beats) == [
        "audio_features='whisper' (the model reads 'fbank')",
        "n_mels=64 (the model reads 128)",
    ]


@pytest.mark.integration
@pytest.mark.parametrize("config", ["crab_llama2_8gpu.yaml", "qwen25_omni_7b_8gpu.yaml"])
def test_shipped_recipes_feed_their_towers(config: str) -> None:
    cfg = load_config([str(SCALE / config)])
    model_args = cfg["model"]["init_args"]
    model = build_avllm(model_args["preset"], **{**model_args["model_overrides"], "init": "meta"})
    assert MediaSpec(**cfg["data"]["init_args"]["media"]).audio_mismatches(model.media_spec) == []


@pytest.mark.integration
def test_module_setup_stops_on_a_mismatch() -> None:
    from crabplus.train import AVLLMModule

    module = AVLLMModule(preset="tiny-modular")
    media = MediaSpec.from_model(module.model.media_spec)  # frames and size as the preset takes them
    module._trainer = SimpleNamespace(
        datamodule=SimpleNamespace(media=dataclasses.replace(media, n_mels=80), task_names=[])
    )
    with pytest.raises(
        ConfigError, match=r"^data\.init_args\.media: n_mels=80 \(the model reads 64\) .*'tiny-modular'"
    ):
        module.setup("fit")
    module._trainer = SimpleNamespace(datamodule=SimpleNamespace(media=media, task_names=[]))
    module.setup("fit")  # the preset's own media: no complaint
