"""A task-routed I-LoRA (``routing: task``) evaluated on another task set keeps its training task ids.

The gate of a sample is the row of its task id in a learned table; the ids are positions in the training
mixture. Evaluating the checkpoint on ``[synth_ground]`` alone, or on the tasks in another order, must give
``synth_ground`` the row it was trained with (same loss as in the training order), and a task the adapter
never saw must stop the run naming it, not borrow another task's row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.helpers.synth_fit import write_fit_config, write_synth_data

from crabplus.errors import ConfigError
from crabplus.train.lightning_cli import run_lightning
from crabplus.train.run_layout import command_folders

TRAIN_TASKS = ["synth_cls", "synth_ground"]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(config, last.ckpt) of a 3-step fit of a K=2 task-routed adapter on ``TRAIN_TASKS``."""
    root = tmp_path_factory.mktemp("task_routed")
    write_synth_data(root, [*TRAIN_TASKS, "synth_qa"], test=2)
    cfg = write_fit_config(
        root,
        TRAIN_TASKS,
        checkpoint_every_n_steps=3,
        trainer={"max_steps": 3, "limit_val_batches": 0},
        model={
            "max_new_tokens": 2,
            "optimizer": {"lr": 2.0e-2, "warmup_ratio": 0.0},
            "adapter": {"heads": 2, "rank": 4, "alpha": 8, "routing": "task", "num_tasks": 3},
        },
    )
    run_lightning(["fit", "--config", str(cfg)])
    return cfg, root / "runs" / "r" / "checkpoints" / "last.ckpt"


def test_loss(cfg: Path, ckpt: Path, tasks: str) -> dict[str, float]:
    """``test/<task>/loss`` of every task of one ``crabplus test`` run on ``tasks``."""
    run_lightning(["test", "--config", str(cfg), "--ckpt_path", str(ckpt), "--data.init_args.tasks", tasks])
    folder = command_folders(ckpt.parents[1], "test")[-1]
    with (folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k.split("/")[1]: float(v) for r in rows for k, v in r.items() if v and k.endswith("/loss")}


test_loss.__test__ = False  # a helper, not a test


def test_each_task_keeps_its_trained_gate_row_on_another_task_set(trained):
    cfg, ckpt = trained
    in_training_order = test_loss(cfg, ckpt, "[synth_cls, synth_ground]")
    alone = test_loss(cfg, ckpt, "[synth_ground]")  # the eval config numbers synth_ground 0
    reversed_order = test_loss(cfg, ckpt, "[synth_ground, synth_cls]")
    assert alone["synth_ground"] == in_training_order["synth_ground"]
    assert reversed_order == in_training_order


def test_a_task_the_adapter_never_saw_stops_naming_it(trained):
    cfg, ckpt = trained
    with pytest.raises(ConfigError, match=r"synth_qa.*routing: task.*\['synth_cls', 'synth_ground'\]"):
        run_lightning(
            ["test", "--config", str(cfg), "--ckpt_path", str(ckpt), "--data.init_args.tasks", "[synth_qa]"]
        )
