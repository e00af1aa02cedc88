"""The CLI's pre-flight of weight paths (one line, no traceback) and its hands-off hub settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests.train._launch import REPO, base_env


@pytest.mark.integration
@pytest.mark.slow
def test_fit_with_a_missing_download_prints_one_line_naming_the_key(tmp_path):
    missing = tmp_path / "models" / "clip-vit-large-patch14"
    llm = tmp_path / "models" / "Llama-2-7b-chat-hf"
    llm.mkdir(parents=True)
    (llm / "config.json").write_text("{}")
    (llm / "model.safetensors").write_bytes(b"")
    overrides = f"{{llm_path: {llm}, vision_path: {missing}, audio_path: openai/whisper-large-v3, audio_tower: whisper}}"
    proc = subprocess.run(
        [sys.executable, "-m", "crabplus.cli", "fit", "--config", "configs/tiny_modular.yaml",
         "--model.init_args.preset", "crab-llama2", "--model.init_args.model_overrides", overrides,
         "--trainer.max_steps", "1"],
        cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    report = proc.stderr.strip().splitlines()[-2:]  # the error line, then how to see the traceback
    assert report == [
        f"crabplus fit: error: model_overrides.vision_path: {missing} does not exist; "
        "put the downloaded folder there or give a hub id",
        "(--debug or CRABPLUS_DEBUG=1 shows the traceback)",
    ]


@pytest.mark.integration
def test_importing_the_cli_leaves_hub_access_to_the_user():
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", "import os, crabplus.cli; print(os.environ.get('HF_HUB_OFFLINE'))"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "None"
