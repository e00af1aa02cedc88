"""Injection by name patterns, freezing, presets, and the safetensors adapter directory."""

from __future__ import annotations

import json

import pytest
import torch
from _lora_tiny import ENCODER_TARGETS, LLM_TARGETS, TinyAV, av_inputs
from _variants import routing_names, variant_config
from safetensors import safe_open

from crabplus.lora import (
    ILoRAConfig,
    adapter_state_dict,
    ilora_layers,
    inject,
    load_adapter,
    matches,
    routing_inputs,
    save_adapter,
)
from crabplus.lora.gates import get_gate

pytestmark = pytest.mark.unit


def test_pattern_rules() -> None:
    name = "language_model.model.layers.0.self_attn.q_proj"
    assert matches(name, "q_proj") and matches(name, "self_attn.q_proj") and matches(name, name)
    assert not matches(name, "proj") and not matches(name, "_proj")
    assert matches(name, r"language_model\..*\.(q|k)_proj") and not matches(name, r".*\.v_proj")


def test_llm_patterns_skip_encoders_and_encoder_patterns_are_scoped() -> None:
    model = inject(
        TinyAV(),
        ILoRAConfig(target_modules=["q_proj", "fc1"], encoder_target_modules={"audio_encoder": ["q_proj"]}),
    )
    names = {n: layer.group for n, layer in ilora_layers(model)}
    want = {f"language_model.model.layers.{i}.self_attn.q_proj": "llm" for i in range(2)}
    want["audio_encoder.layers.0.self_attn.q_proj"] = "audio_encoder"
    assert names == want  # "fc1" matches only CLIP's MLP, which is an encoder: a miss for the LLM list...


def test_pattern_list_matching_nothing_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"target_modules: no nn.Linear matches \['nope'\]"):
        inject(TinyAV(), ILoRAConfig(target_modules=["nope"]))
    with pytest.raises(ValueError, match="encoder_target_modules\\['vision_encoder'\\]"):
        inject(
            TinyAV(),
            ILoRAConfig(target_modules=LLM_TARGETS, encoder_target_modules={"vision_encoder": ["q_proj_x"]}),
        )


def test_freezing_and_unchanged_base_keys() -> None:
    base_keys = set(TinyAV().state_dict())
    model = inject(TinyAV(), ILoRAConfig(target_modules=LLM_TARGETS, encoder_target_modules=ENCODER_TARGETS))
    keys = set(model.state_dict())
    assert base_keys <= keys and all(".lora_" in k for k in keys - base_keys)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {k for k in keys if ".lora_" in k}
    with pytest.raises(ValueError, match="already"):
        inject(model, ILoRAConfig(target_modules=LLM_TARGETS))


def test_presets_and_config_errors() -> None:
    crab, plus, lora = ILoRAConfig.crab(), ILoRAConfig.crab_plus(), ILoRAConfig.lora(rank=16, alpha=32)
    assert (crab.heads, crab.rank, crab.alpha, crab.dropout, crab.shared_dropout) == (3, 8, 16, 0.05, False)
    assert (plus.heads, plus.rank, plus.alpha, plus.dropout, plus.shared_dropout) == (3, 128, 256, 0.1, True)
    assert plus.scaling == 2.0 and set(plus.encoder_target_modules) == {"audio_encoder", "vision_encoder"}
    assert lora.heads == 1 and lora.scaling == 2.0
    assert ILoRAConfig.from_dict(plus.to_dict()) == plus
    with pytest.raises(
        ValueError, match=r"ILoRAConfig.routing: expected one of \['task', .*'topk'\], got 'gumbel'"
    ):
        ILoRAConfig(routing="gumbel")
    with pytest.raises(ValueError, match="ILoRAConfig.top_k"):
        ILoRAConfig(routing="topk", top_k=4)
    with pytest.raises(ValueError, match=r"ILoRAConfig\.rnak: unknown key \(did you mean 'rank'\?\)"):
        ILoRAConfig.from_dict({"rnak": 3})


@pytest.mark.parametrize("routing", routing_names())
def test_adapter_directory_round_trip(tmp_path, routing: str) -> None:
    config = variant_config(routing, 3, target_modules=LLM_TARGETS, encoder_target_modules=ENCODER_TARGETS)
    model = inject(TinyAV(seed=0), config).eval()
    with torch.no_grad():
        for p in adapter_state_dict(model).values():
            p.normal_(std=0.1)
    save_adapter(model, tmp_path / "adapter")
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    meta = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert meta["adapter_type"] == "ILORA" and meta["heads"] == 3 and meta["routing"] == routing
    with safe_open(str(tmp_path / "adapter" / "adapter_model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys == set(adapter_state_dict(model))
    gate_keys = {k.rsplit(".", 2)[-2] for k in keys} - {"lora_A", "lora_B"}
    assert gate_keys == set(get_gate(routing).modules)  # the variant's modules travel with the adapter
    fresh = load_adapter(TinyAV(seed=0), tmp_path / "adapter").eval()  # injects from the saved config
    with torch.no_grad(), routing_inputs(task_ids=torch.tensor([1, 0])):
        assert torch.equal(fresh(**av_inputs()), model(**av_inputs()))
    wrong = inject(TinyAV(seed=0), ILoRAConfig(heads=2, rank=4, target_modules=LLM_TARGETS))
    with pytest.raises(ValueError, match="missing keys|shape"):
        load_adapter(wrong, tmp_path / "adapter")
