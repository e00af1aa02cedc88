"""What the console shows (issue 16, friction 7): fast help without Lightning, a correct progress description,
one full-width task × metric table, no Lightning cloud tips."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crabplus.train.callbacks.progress import train_description
from crabplus.train.callbacks.summary import format_metric_table, metrics_by_task

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.unit
def test_progress_description_of_step_and_epoch_bounded_runs():
    assert train_description(0, -1, 60) == "Steps (max 60)"  # Lightning wrote "Epoch 0/-2"
    assert train_description(2, 5, -1) == "Epoch 2/4"
    assert train_description(3, None, -1) == "Epoch 3"


@pytest.mark.unit
def test_metric_table_has_one_row_per_task_full_names_and_blanks():
    logged = {
        "val/synth_qa/accuracy/leftright": 0.25,
        "val/synth_qa/loss": 2.5,
        "val/synth_cls/accuracy": 0.5,
        "val/synth_cls/loss": 1.0,
        "train/loss": 9.0,  # not a validation metric
        "test/synth_cls/accuracy": 0.9,  # other split
    }
    values = metrics_by_task(logged, "val")
    assert values == {
        "synth_qa": {"accuracy/leftright": 0.25, "loss": 2.5},
        "synth_cls": {"accuracy": 0.5, "loss": 1.0},
    }
    expected = "\n".join(
        [
            "val",
            "-" * 50,
            "task       accuracy  accuracy/leftright    loss",
            "-" * 50,
            "synth_cls    0.5000                      1.0000",
            "synth_qa                         0.2500  2.5000",
            "-" * 50,
        ]
    )
    table = format_metric_table(values, "val")
    assert table == expected.replace("-" * 50, "-" * len("task       accuracy  accuracy/leftright    loss"))


@pytest.mark.unit
def test_help_is_fast_and_does_not_load_lightning():
    code = (
        "import sys, time; t = time.perf_counter(); from crabplus.cli import main; main(['--help']); "
        "print('ELAPSED', time.perf_counter() - t); print('LIGHTNING', 'lightning' in sys.modules)"
    )
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    assert "LIGHTNING False" in proc.stdout
    assert "--key.sub value" in proc.stdout  # the one override dialect is documented in the help
    assert wall < 2.0, f"crabplus --help took {wall:.2f} s"


@pytest.mark.unit
def test_lightning_cloud_tips_are_dropped():
    import logging

    import crabplus.train.lightning_cli  # noqa: F401  installs the filter

    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    tip = log.makeRecord(log.name, logging.INFO, __file__, 1, "💡 Tip: try installing litlogger", (), None)
    other = log.makeRecord(log.name, logging.INFO, __file__, 1, "GPU available: False", (), None)
    assert not log.filter(tip) and log.filter(other)


@pytest.mark.unit
def test_step_bounded_bar_counts_towards_max_steps_also_after_a_resume():
    from types import SimpleNamespace

    from crabplus.train.callbacks.progress import StepProgressBar

    bar = StepProgressBar()
    # an endless stream (Lightning: inf batches) and a resumed run (Lightning counted what was left: 1)
    for left in (float("inf"), 1):
        bar._trainer = SimpleNamespace(
            max_epochs=-1, max_steps=8, accumulate_grad_batches=2, num_training_batches=left
        )
        assert bar.total_train_batches == 16
    bar._trainer = SimpleNamespace(
        max_epochs=3, max_steps=-1, accumulate_grad_batches=1, num_training_batches=5
    )
    assert bar.total_train_batches == 5  # epoch-bounded: Lightning's own count
