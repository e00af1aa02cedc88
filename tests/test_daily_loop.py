"""Acceptance of issue 16: the researcher's daily loop on small data, every command as a user types it
(``tools/daily_loop.py``): synth → fit (preempted at step 4) → test → resume → predict → baselines → report
by run name → notebook, with every file every step wrote still present and unchanged, and no nan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from daily_loop import RUN, SPLITS, TASKS, Loop  # noqa: E402


@pytest.mark.slow
@pytest.mark.integration
def test_the_daily_loop_keeps_every_log_and_reports_without_nan(tmp_path):
    result = Loop(
        tmp_path, log=lambda *_: None
    ).run()  # raises LoopError naming the step or check that failed
    folders = result["folders"]
    assert folders[:2] == ["checkpoints", "fit"]
    assert [f.split("-")[0] for f in folders[2:]] == sorted(
        ["fit", "test", "predict"]
    )  # one folder per command
    assert result["predictions"] == SPLITS["test"] * len(TASKS)
    assert f"# Transfer: {RUN}" in result["report"] and "nan" not in result["report"].lower()
