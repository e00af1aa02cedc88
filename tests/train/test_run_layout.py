"""Run folder layout: one folder per command, found again in order; the store found from any sub-folder."""

from __future__ import annotations

import os
import time

import pytest

from crabplus.train.run_layout import (
    command_folder,
    command_folders,
    find_routing_stats,
    fit_config_path,
    locate_runs_dir,
    locate_store,
)

pytestmark = pytest.mark.unit
NOON = time.mktime((2026, 11, 30, 12, 0, 0, 0, 0, -1))


def test_first_fit_then_timestamped_folders_never_reused(tmp_path):
    run = tmp_path / "r"
    assert command_folder(run, "fit", NOON) == run / "fit"
    (run / "fit").mkdir(parents=True)
    assert command_folder(run, "fit", NOON) == run / "fit-20261130-120000"
    (run / "test-20261130-120000").mkdir()
    assert command_folder(run, "test", NOON) == run / "test-20261130-120000-2"
    with pytest.raises(ValueError, match="unknown stage 'train'"):
        command_folder(run, "train")


def test_folders_in_time_order_and_the_latest_fit_config(tmp_path):
    run = tmp_path / "r"
    for name in (
        "fit-20261130-130000",
        "test-20261130-120500",
        "fit",
        "predict-20261130-140000",
        "checkpoints",
        "fitness",
    ):
        (run / name).mkdir(parents=True)
    assert [p.name for p in command_folders(run)] == [
        "fit", "test-20261130-120500", "fit-20261130-130000", "predict-20261130-140000",
    ]  # fmt: skip
    assert fit_config_path(run) is None
    (run / "fit" / "config.yaml").write_text("a: 1\n")
    assert fit_config_path(run) == run / "fit" / "config.yaml"
    (run / "fit-20261130-130000" / "config.yaml").write_text("a: 2\n")
    assert fit_config_path(run) == run / "fit-20261130-130000" / "config.yaml"


def test_store_and_runs_folder_found_from_a_sub_folder(tmp_path, monkeypatch):
    for key in ("CRABPLUS_RESULTS_STORE", "CRABPLUS_RUNS_DIR"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    (tmp_path / "runs").mkdir()
    assert locate_store(tmp_path / "notebooks" / "deep") is None
    assert locate_runs_dir(tmp_path / "notebooks" / "deep") == (tmp_path / "runs").resolve()
    (tmp_path / "runs" / "results.sqlite").write_bytes(b"")
    assert locate_store(tmp_path / "notebooks" / "deep") == (tmp_path / "runs" / "results.sqlite").resolve()
    monkeypatch.setenv("CRABPLUS_RESULTS_STORE", "elsewhere.sqlite")
    assert str(locate_store(tmp_path)) == "elsewhere.sqlite"


def test_routing_stats_of_the_newest_command(tmp_path):
    runs = tmp_path / "runs"
    for folder, mtime in (("r/fit", 100), ("r/fit-20261130-130000", 200), ("s/fit", 300)):
        path = runs / folder / "routing" / "routing_stats_step5.json"
        path.parent.mkdir(parents=True)
        path.write_text("{}")
        os.utime(path, (mtime, mtime))
    assert find_routing_stats(runs, "r") == runs / "r" / "fit-20261130-130000" / "routing"
    assert find_routing_stats(runs) == runs / "s" / "fit" / "routing"
    (runs / "plain" / "fit").mkdir(parents=True)
    assert find_routing_stats(runs, "plain") is None
