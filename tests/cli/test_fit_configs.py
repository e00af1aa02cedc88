"""`crabplus fit --config configs/tiny_*.yaml` trains both tiny presets for a few steps on real shards."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNTH = """
version: "test"
maxcount: 8
world: {num_classes: 4, duration_s: 4.0, fps: 4, frame_size: 32, sample_rate: 16000, max_objects: 2, seed: 0}
splits: {train: 8, val: 2, test: 2}
tasks: {synth_cls: {}, synth_qa: {}}
"""


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    (root / "synth.yaml").write_text(SYNTH)
    proc = subprocess.run(
        [sys.executable, "-m", "crabplus.cli", "data", "synth", "--out", str(root / "data"), "--config",
         str(root / "synth.yaml")], cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root / "data"


@pytest.mark.slow
@pytest.mark.parametrize("config", ["tiny_modular", "tiny_omni"])
def test_fit_trains_the_tiny_preset_a_few_steps(shards, tmp_path, config):
    runs = tmp_path / "runs"
    args = [
        sys.executable, "-m", "crabplus.cli", "fit", "--config", f"configs/{config}.yaml",
        f"--runs_dir={runs}", "--run_name=smoke", f"--data.init_args.root={shards}",
        "--data.init_args.tasks=[{name: synth_cls}, {name: synth_qa}]", "--data.init_args.num_workers=0",
        "--trainer.max_steps=4", "--trainer.val_check_interval=4", "--trainer.limit_val_batches=1",
        "--model.init_args.max_new_tokens=6", "--trainer.enable_progress_bar=false", "--trainer.log_every_n_steps=1",
    ]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader(open(runs / "smoke" / "fit" / "metrics.csv")))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses and all(loss == loss for loss in losses)  # logged and finite (NaN != NaN)
    assert any(r.get("val/synth_cls/accuracy") for r in rows)  # generation + metrics ran in validation
    assert (runs / "smoke" / "checkpoints" / "last.ckpt").exists()
    assert (runs / "smoke" / "fit" / "config.yaml").exists()  # the resolved config of this fit
