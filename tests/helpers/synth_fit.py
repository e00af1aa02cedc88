"""A small synthetic world and a ``crabplus fit`` config on it, shared by the tests that run the real CLI
on one run folder (tests/cli/test_run_history.py, tests/train/test_task_routed_eval.py).

The caller states what its test is about (steps, validation, adapter, the test split's size); the rest
(tiny-modular on CPU, two samples a batch, no workers, the synth world's media) is fixed here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from crabplus.data.cli import main as data_main

WORLD = {"num_classes": 8, "duration_s": 4.0, "fps": 4, "frame_size": 32}
MEDIA = {"num_frames": 4, "frame_size": 32, "n_mels": 64, "clip_seconds": 4.0}


def write_synth_data(root: Path, tasks: list[str], test: int) -> Path:
    """4 train, 2 val and ``test`` test samples of each of ``tasks`` under ``root/data``, written by
    ``crabplus data synth`` from ``root/synth.yaml``."""
    synth = root / "synth.yaml"
    synth.write_text(yaml.safe_dump({
        "maxcount": 8, "splits": {"train": 4, "val": 2, "test": test}, "world": WORLD,
        "tasks": {t: {} for t in tasks},
    }))  # fmt: skip
    assert data_main(["synth", "--out", str(root / "data"), "--config", str(synth)]) == 0
    return root / "data"


def write_fit_config(
    root: Path, tasks: list[str], *, checkpoint_every_n_steps: int, trainer: dict, model: dict
) -> Path:
    """``root/fit.yaml``: run ``r`` under ``root/runs`` fitting tiny-modular on ``tasks`` of ``root/data``.

    ``trainer`` adds to a quiet CPU trainer (no sanity validation, no progress bar or summary, a log line
    every step); ``model`` adds to the module's ``init_args`` after the preset.
    """
    config = {
        "seed_everything": 0, "run_name": "r", "runs_dir": str(root / "runs"),
        "checkpoint_every_n_steps": checkpoint_every_n_steps,
        "trainer": {
            "accelerator": "cpu", "num_sanity_val_steps": 0, "enable_progress_bar": False,
            "enable_model_summary": False, "log_every_n_steps": 1, **trainer,
        },
        "model": {"class_path": "crabplus.train.AVLLMModule", "init_args": {"preset": "tiny-modular", **model}},
        "data": {"class_path": "crabplus.data.MultiTaskDataModule", "init_args": {
            "root": str(root / "data"), "batch_size": 2, "num_workers": 0, "tasks": list(tasks), "media": MEDIA}},
    }  # fmt: skip
    path = root / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
