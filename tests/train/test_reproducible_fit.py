"""Bit-reproducible CPU training: one short fit of the demo recipe in separate processes under different
conditions gives the same trainable weights, result rows and evaluated items, byte for byte.

Conditions: A alone, no DataLoader workers, OMP_NUM_THREADS=1; B with two workers and OMP_NUM_THREADS=2 while
C (a second fit with one worker, as ``--jobs 2`` runs them) trains beside it. What makes them equal is pinned in
the config: ``seed_everything``, ``threads: 1`` and ``data.stream_slots: 2`` (the batches depend on the slots,
not on the worker count); the synthetic data is byte-reproducible (``crabplus.data.encode``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crabplus.transfer import ResultsStore

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from weight_digest import WORLD, WORLD_OVERRIDES, digest_of_checkpoint  # noqa: E402

CONFIG = "configs/demo/multitask_lora.yaml"
STEPS = 8


def fit_command(tmp: Path, name: str, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "crabplus.cli", "fit", "--config", CONFIG, f"--runs_dir={tmp / name}",
        f"--run_name={name}", f"--data.init_args.root={tmp / 'data'}", f"--data.init_args.num_workers={workers}",
        f"--trainer.max_steps={STEPS}", f"--trainer.val_check_interval={STEPS}", "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false", f"--checkpoint_every_n_steps={STEPS}",
        "--model.init_args.max_new_tokens=6", "--trainer.callbacks=[]",
    ]  # fmt: skip


def env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}  # fmt: skip


def stored(tmp: Path, name: str) -> tuple[list, list]:
    store = ResultsStore(tmp / name / "results.sqlite")
    (run,) = store.runs()
    rows = sorted((r.task, r.metric, r.value, r.step, r.split) for r in store.rows(run_id=run.run_id))
    items = [(i.task, i.item, i.prediction, i.target, i.scores) for i in store.items(run.run_id, "val")]
    return rows, items


@pytest.mark.slow
def test_one_fit_two_processes_alone_and_beside_another(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "crabplus.cli", "data", "synth", "--out", str(tmp_path / "data"), "--config", WORLD,
         *WORLD_OVERRIDES, "splits.val=4"],
        cwd=REPO, env=env(1), check=True, capture_output=True,
    )  # fmt: skip
    alone = subprocess.run(
        fit_command(tmp_path, "a", 0), cwd=REPO, env=env(1), capture_output=True, text=True
    )
    assert alone.returncode == 0, alone.stderr[-3000:]
    together = [
        subprocess.Popen(
            fit_command(tmp_path, "b", 2), cwd=REPO, env=env(2), stderr=subprocess.PIPE, text=True
        ),
        subprocess.Popen(
            fit_command(tmp_path, "c", 1), cwd=REPO, env=env(2), stderr=subprocess.PIPE, text=True
        ),
    ]
    for proc in together:
        _, err = proc.communicate()
        assert proc.returncode == 0, err[-3000:]
    digests = {n: digest_of_checkpoint(tmp_path / n / n / "checkpoints" / "last.ckpt") for n in "abc"}
    assert digests["a"] == digests["b"] == digests["c"]
    rows_a, items_a = stored(tmp_path, "a")
    rows_b, items_b = stored(tmp_path, "b")
    assert rows_a and items_a
    assert {task for task, *_ in items_a} == {task for task, *_ in rows_a}  # every evaluated task kept items
    assert rows_a == rows_b
    assert items_a == items_b
