"""configs/scale: every file parses with the real CLI parser; the FSDP layer policy wraps what it should.

No GPU and no deepspeed needed: ``--print_config`` parses and validates (class paths, argument names and
types) without instantiating the Trainer or its strategy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.strategies import FSDPStrategy
from tests.train._launch import REPO, base_env
from transformers.models.clip.modeling_clip import CLIPEncoderLayer
from transformers.models.llama.modeling_llama import LlamaDecoderLayer
from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer
from transformers.models.qwen2_5_omni import modeling_qwen2_5_omni as omni
from transformers.models.siglip.modeling_siglip import SiglipEncoderLayer
from transformers.models.whisper.modeling_whisper import WhisperEncoderLayer

from crabplus.cli import run_lightning
from crabplus.model import build_avllm
from crabplus.train.strategies import LayerWrapPolicy, resolve_layer_classes

SCALE = REPO / "configs" / "scale"
FRAGMENTS = ["ddp", "fsdp", "deepspeed_stage_2", "deepspeed_stage_3"]
FULL = ["crab_llama2_8gpu", "qwen25_omni_7b_8gpu"]


@pytest.fixture(name="parse")
def _parse(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """``parse(A, B, ...)``: the resolved config of ``crabplus fit --config A --config B --print_config``."""
    monkeypatch.setattr(sys, "argv", ["crabplus"])  # pytest's own arguments are not the CLI's

    def parse(*configs: Path) -> dict:
        return _print_config(capsys, *configs)

    return parse


def _print_config(capsys: pytest.CaptureFixture, *configs: Path) -> dict:
    """The real parser in this process (a subprocess per config would cost ~10 s of imports each)."""
    args = ["fit"] + [a for c in configs for a in ("--config", str(c))] + ["--print_config"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_lightning(args)
    out = capsys.readouterr()
    assert exit_info.value.code in (0, None), out.err[-3000:]
    return yaml.safe_load(out.out)


@pytest.mark.unit
def test_the_scale_folder_holds_exactly_the_tested_configs():
    assert sorted(p.stem for p in SCALE.glob("*.yaml")) == sorted(FRAGMENTS + FULL)


@pytest.mark.integration
@pytest.mark.parametrize("model", ["tiny_modular", "tiny_omni"])
@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_strategy_fragment_layers_over_a_model_config(parse, model, fragment):
    config = parse(REPO / "configs" / f"{model}.yaml", SCALE / f"{fragment}.yaml")
    trainer = config["trainer"]
    assert trainer["precision"] == "bf16-mixed" and trainer["accelerator"] == "gpu"
    assert config["model"]["init_args"]["preset"] == model.replace("_", "-")  # the model config survives
    strategy = trainer["strategy"]
    if fragment == "ddp":
        assert strategy == "ddp"
    elif fragment == "fsdp":
        assert strategy["class_path"] == "lightning.pytorch.strategies.FSDPStrategy"
        assert (
            strategy["init_args"]["auto_wrap_policy"]["class_path"]
            == "crabplus.train.strategies.LayerWrapPolicy"
        )
    else:
        assert strategy["class_path"] == "lightning.pytorch.strategies.DeepSpeedStrategy"
        assert strategy["init_args"]["stage"] == int(fragment[-1])
        assert strategy["init_args"]["exclude_frozen_parameters"] is True


@pytest.mark.integration
@pytest.mark.parametrize("name", FULL)
def test_eight_gpu_config_parses_and_builds_its_fsdp_strategy(parse, name):
    config = parse(SCALE / f"{name}.yaml")
    trainer = config["trainer"]
    assert trainer["devices"] == 8 and trainer["precision"] == "bf16-mixed"
    assert config["model"]["init_args"]["preset"] in {"crab-llama2", "qwen2.5-omni-7b"}
    args = trainer["strategy"]["init_args"]
    wrap = LayerWrapPolicy(**args["auto_wrap_policy"]["init_args"])
    strategy = FSDPStrategy(
        auto_wrap_policy=wrap,
        activation_checkpointing_policy=LayerWrapPolicy(
            **args["activation_checkpointing_policy"]["init_args"]
        ),
        sharding_strategy=args["sharding_strategy"],
        state_dict_type=args["state_dict_type"],
    )
    assert strategy.kwargs["use_orig_params"] is True  # frozen and trainable parameters share units
    decoder = LlamaDecoderLayer if name.startswith("crab") else omni.Qwen2_5OmniDecoderLayer
    assert decoder in wrap.layer_classes and len(wrap.layer_classes) == 3
    # a strategy fragment layers on top and keeps the 8 devices (deepspeed itself is not needed to parse)
    layered = parse(SCALE / f"{name}.yaml", SCALE / "deepspeed_stage_2.yaml")
    assert layered["trainer"]["strategy"]["init_args"]["stage"] == 2 and layered["trainer"]["devices"] == 8


@pytest.mark.unit
def test_default_policy_covers_every_preset_layer_class():
    expected = {
        LlamaDecoderLayer, Qwen2DecoderLayer, CLIPEncoderLayer, SiglipEncoderLayer, WhisperEncoderLayer,
        omni.Qwen2_5OmniDecoderLayer, omni.Qwen2_5OmniAudioEncoderLayer, omni.Qwen2_5OmniVisionBlock,
    }  # fmt: skip
    assert LayerWrapPolicy().layer_classes == expected
    assert resolve_layer_classes(["torch.nn.TransformerEncoderLayer"]) == {torch.nn.TransformerEncoderLayer}
    with pytest.raises(ValueError, match="LlamaDecoderLayer"):
        resolve_layer_classes(["GPT2Block"])  # unknown short name: the error lists the known ones
    with pytest.raises(ValueError, match="not an nn.Module"):
        resolve_layer_classes(["math.pi"])


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny-modular", "tiny-omni"])
def test_policy_selects_exactly_the_transformer_layers_of_the_tiny_presets(preset):
    model = build_avllm(preset)
    policy = LayerWrapPolicy()
    chosen = [name for name, m in model.named_modules() if policy(m, recurse=False, nonwrapped_numel=0)]
    names = set(policy.layer_names)
    by_class_name = [name for name, m in model.named_modules() if type(m).__name__ in names]
    assert chosen == by_class_name and len(chosen) == 6  # 2 LM + 2 vision + 2 audio layers in each preset


@pytest.mark.slow
@pytest.mark.integration
def test_fsdp_on_cpu_wraps_layers_and_checkpoint_keeps_every_trainable_parameter(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("_fsdp_cpu.py"))],
        env=base_env(INIT_FILE=str(tmp_path / "init")), cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(result["units"]) == sorted(
        ["AVLLMModule"] + ["CLIPEncoderLayer", "WhisperEncoderLayer", "LlamaDecoderLayer"] * 2
    )
    assert result["renamed"] > 0  # FSDP did rename parameters in place ...
    assert result["kept"] == result["expected"]  # ... and the checkpoint still holds every trainable one
