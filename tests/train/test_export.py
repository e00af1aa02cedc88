"""``crabplus export``: a checkpoint's adapter (+ connectors) as safetensors — a peft folder for K = 1 that
``PeftModel.from_pretrained`` loads with the same logits, the Crab key layout for K > 1, the project's own
folder for both, and trained connectors beside them."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

from crabplus.cli import main
from crabplus.lora import ILoRAConfig, ilora_layers, inject, load_crab_state_dict
from crabplus.model import build_avllm
from crabplus.train import AVLLMModule
from crabplus.train.export import load_export

pytestmark = pytest.mark.integration
PRESET = "tiny-modular"


def checkpoint(tmp_path: Path, adapter: dict) -> tuple[Path, AVLLMModule]:
    """A Lightning checkpoint of an AVLLMModule whose adapter heads and connectors are far from init."""
    module = AVLLMModule(preset=PRESET, adapter=adapter)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in module.model.named_parameters():
            if p.requires_grad:  # adapters + connectors (the default trainable mode)
                p.copy_(torch.randn(p.shape, generator=g) * (0.05 if ".lora_" in name else 0.02) + p)
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.strategy.connect(module)
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    return path, module.eval()


def export(ckpt: Path, out: Path) -> dict:
    assert main(["export", "--ckpt_path", str(ckpt), "--out", str(out)]) == 0
    return json.loads((out / "export.json").read_text())


def test_k1_peft_folder_gives_the_same_logits(tmp_path: Path) -> None:
    ckpt, module = checkpoint(tmp_path, {"heads": 1, "rank": 4, "alpha": 8.0, "dropout": 0.1})
    manifest = export(ckpt, tmp_path / "out")
    assert manifest["files"] == {"adapter": "adapter", "peft": "peft", "modules": "modules.safetensors"}
    peft_config = json.loads((tmp_path / "out" / "peft" / "adapter_config.json").read_text())
    assert (peft_config["peft_type"], peft_config["r"], peft_config["lora_alpha"]) == ("LORA", 4, 8.0)
    assert len(peft_config["target_modules"]) == 2 * 7  # tiny Llama: 2 layers x 7 projections

    base_lm = build_avllm(PRESET).language_model  # the frozen base is rebuilt from the preset
    peft_model = PeftModel.from_pretrained(base_lm, str(tmp_path / "out" / "peft")).eval()
    ids = torch.randint(
        0, module.model.language_model.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        ours = module.model.language_model(input_ids=ids).logits
        theirs = peft_model(input_ids=ids).logits
        plain = build_avllm(PRESET).language_model(input_ids=ids).logits
    assert (ours - plain).abs().max() > 1e-2  # the adapter changes the logits
    assert (ours - theirs).abs().max().item() <= 1e-5  # measured: 0 on CPU
    lora_a = [n for n, _ in peft_model.named_parameters() if n.endswith("lora_A.default.weight")]
    assert len(lora_a) == 14  # every adapted projection was wrapped, nothing else


def test_k3_crab_layout_and_own_folder_round_trip(tmp_path: Path) -> None:
    adapter = {"heads": 3, "rank": 4, "alpha": 8.0, "dropout": 0.0}
    ckpt, module = checkpoint(tmp_path, adapter)
    manifest = export(ckpt, tmp_path / "out")
    assert manifest["heads"] == 3 and not (tmp_path / "out" / "peft").exists()
    assert manifest["files"] == {
        "adapter": "adapter",
        "crab": "crab_adapter.safetensors",
        "modules": "modules.safetensors",
    }
    crab = load_file(str(tmp_path / "out" / "crab_adapter.safetensors"))
    layers = dict(ilora_layers(module.model))
    q0 = layers["language_model.model.layers.0.self_attn.q_proj"]
    key = "base_model.model.model.layers.0.self_attn.q_proj"
    for i in range(3):  # Crab's head i is column block i of the fused lora_B
        assert torch.equal(crab[f"{key}.lora_B{i}.weight"], q0.lora_B.weight[:, 4 * i : 4 * (i + 1)])
    assert torch.equal(crab[f"{key}.lora_route.weight"], q0.lora_route.weight)
    assert len(crab) == len(layers) * (1 + 3 + 1)

    fresh = inject(build_avllm(PRESET), ILoRAConfig(**adapter))  # the README's Crab-layout loader
    load_crab_state_dict(fresh, crab)
    for name, layer in ilora_layers(fresh):
        for local, p in layer.adapter_parameters().items():
            assert torch.equal(p, layers[name].adapter_parameters()[local]), f"{name}.{local}"

    rebuilt = load_export(tmp_path / "out")  # the project's own folder: adapter + connectors
    want = module.model.state_dict()
    got = rebuilt.state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    modules = load_file(str(tmp_path / "out" / "modules.safetensors"))
    assert modules and all(
        k.startswith(("vision_connector.", "audio_connector.", "mask_head.")) for k in modules
    )


def test_errors_name_the_file(tmp_path: Path, capsys) -> None:
    assert main(["export", "--ckpt_path", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "o")]) == 2
    assert "nope.ckpt: no such checkpoint" in capsys.readouterr().out
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    assert main(["export", "--ckpt_path", str(tmp_path / "other.ckpt"), "--out", str(tmp_path / "o")]) == 2
    assert "other.ckpt: not an AVLLMModule checkpoint" in capsys.readouterr().out
