"""`crabplus plan` on the shipped 8-GPU configs: the papers' trainable counts, on CPU, without weights.

The expected counts are worked out by hand from the public architectures, per wrapped Linear(d_in, d_out)
with K heads and rank r: A r·d_in + B d_out·K·r + router K·d_in.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from tests.train._launch import REPO, base_env

from crabplus.plan.cli import load_config, plan

SCALE = REPO / "configs" / "scale"


def _readme_real_models() -> str:
    """README's "Training the real models" section (it quotes plan's figures for the shipped configs)."""
    text = (REPO / "README.md").read_text()
    return text.split("## Training the real models", 1)[1].split("\n## ", 1)[0]


def _lora(d_in: int, d_out: int, k: int, r: int) -> int:
    return r * d_in + d_out * k * r + k * d_in


@pytest.mark.unit
def test_hand_counts_match_the_papers() -> None:
    """The hand formula reproduces Crab's 45.16 M and Crab+'s 870.48 M (research notes, released code)."""
    h, i = 4096, 11008  # LLaMA-2-7B
    crab = 32 * (4 * _lora(h, h, 3, 8) + 2 * _lora(h, i, 3, 8) + _lora(i, h, 3, 8))
    assert crab == 45_162_496
    h, i, kv = 3584, 18944, 512  # Qwen2.5-Omni-7B thinker LM (GQA: k/v project to 4 heads x 128)
    llm = 28 * (
        2 * _lora(h, h, 3, 128) + 2 * _lora(h, kv, 3, 128) + 2 * _lora(h, i, 3, 128) + _lora(i, h, 3, 128)
    )
    vision = 32 * (2 * _lora(1280, 3420, 3, 128) + _lora(3420, 1280, 3, 128))
    audio = 32 * 3 * _lora(1280, 1280, 3, 128)
    assert (llm, vision, audio) == (682_350_592, 124_846_720, 63_283_200)


@pytest.mark.integration
@pytest.mark.slow
def test_crab_config_plan_counts_and_memory() -> None:
    result = plan(load_config([str(SCALE / "crab_llama2_8gpu.yaml")]))
    params = result["parameters"]
    assert params["llm adapters"]["trainable"] == 45_162_496
    assert params["vision adapters"]["trainable"] == params["audio adapters"]["trainable"] == 0
    assert params["connectors"]["trainable"] > 0 and params["heads"]["total"] == 0  # seg branch off
    assert params["llm"]["trainable"] == params["vision encoder"]["trainable"] == 0
    assert 6.7e9 < params["llm"]["total"] < 6.8e9  # LLaMA-2-7B: 6.74 B
    assert result["config"]["strategy"] == "fsdp" and result["config"]["devices"] == 8
    assert all(v != "ok" for v in result["preflight"].values())  # the /path/to placeholders are reported
    mem = result["memory_gib"]
    assert mem["total_ac"] < mem["total"] and mem["activations_ac"] < mem["activations"]
    assert params["audio encoder"]["total"] == 90_717_055  # Crab's BEATs (iter3+ AS2M), see test_beats.py
    # FSDP x 8 shards the fp32 weights: 7.26 B x 4 bytes / 8 = 3.38 GiB, plus two gathered bf16 layers
    total = sum(p["total"] for p in params.values())
    lm, clip, beats, connectors, lora = 6_738_415_616, 303_179_776, 90_717_055, 79_102_976, 45_162_496
    assert total == lm + clip + beats + connectors + lora
    assert mem["weights"] == pytest.approx((total * 4 / 8 + 2 * 203_794_688 * 2) / 2**30, rel=1e-6)
    ave = next(t for t in result["tasks"] if t["task"] == "ave")
    assert ave["media"] == 10 * 32 + 10 * 32 and ave["answer"] == 256 + 1  # 10 frames + 10 windows x 32; EOS
    assert ave["encoder"]["audio"] == 10 * 6 * 8  # ten 1-s fbank windows of 98 frames -> 6 x 8 BEATs patches
    readme = " ".join(_readme_real_models().split())  # the figures quoted there are what plan prints now
    assert f"{connectors:,} connector" in readme and f"{lora:,} adapter" in readme
    assert f"Crab (BEATs audio) {mem['total']:.1f} GiB per GPU" in readme, readme
    assert f"checkpointing, {mem['total_ac']:.1f} GiB with it" in readme


@pytest.mark.integration
@pytest.mark.slow
def test_crab_plus_config_plan_counts() -> None:
    result = plan(load_config([str(SCALE / "qwen25_omni_7b_8gpu.yaml")]))
    params = result["parameters"]
    adapters = [params[f"{g} adapters"]["trainable"] for g in ("llm", "vision", "audio")]
    assert adapters == [682_350_592, 124_846_720, 63_283_200]
    assert sum(p["trainable"] for p in params.values()) == 870_480_512  # adapters only: no connector, no head
    ave = next(t for t in result["tasks"] if t["task"] == "ave")
    # 10 frames at 224 px: 5 temporal patches x 8 x 8 merged tokens; 10-s audio: all 250 tower tokens (as the
    # processor gives them; the plan's stand-in tokenizer has no <|vision_bos|>-style wrappers to add)
    assert ave["media"] == 5 * 64 + 250
    mem = result["memory_gib"]
    readme = " ".join(_readme_real_models().split())
    assert f"{mem['total']:.1f} / {mem['total_ac']:.1f} GiB" in readme, readme


@pytest.mark.integration
@pytest.mark.slow
def test_plan_cli_prints_the_acceptance_lines_quickly_offline() -> None:
    """The command a user runs: a fresh process, no weights, no network, well under a minute each."""
    expected = {
        "crab_llama2_8gpu": "trainable adapter parameters: 45,162,496",
        "qwen25_omni_7b_8gpu": "(LLM 682,350,592 / vision 124,846,720 / audio 63,283,200 / total 870,480,512)",
    }
    for name, line in expected.items():
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "crabplus.cli", "plan", "--config", str(SCALE / f"{name}.yaml")],
            cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert line in proc.stdout, proc.stdout
        assert time.perf_counter() - started < 60
