"""The researcher's loop on one run folder: fit → test → resume → validate/test elsewhere → predict.

Checks (issue 16, frictions 1, 3 and 4):
- every command writes its own folder (``fit/``, ``test-<time>/``, ``fit-<time>/``...) and no byte of what an
  earlier command wrote changes (the pre-resume ``metrics.csv`` keeps its rows);
- ``crabplus predict`` and ``test --save_predictions`` write one JSONL row per item; a row's score is the
  task metric of that item worked out here from the parsed answer and the target;
- a checkpoint evaluates on tasks it was not trained on, on another split, and on a test-only task (no
  ``train/`` folder): the mixture state is not restored outside ``fit``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from tests.helpers.synth_fit import write_fit_config, write_synth_data

from crabplus.data.shards import read_index
from crabplus.train.lightning_cli import run_lightning
from crabplus.train.run_layout import command_folders
from crabplus.transfer import ResultsStore, load_config, recipe_fingerprint

TRAIN_TASKS = ["synth_cls", "synth_ground"]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history")
    write_synth_data(root, [*TRAIN_TASKS, "synth_qa"], test=3)
    shutil.rmtree(root / "data" / "synth_qa" / "train")  # a test-only benchmark
    write_fit_config(
        root,
        TRAIN_TASKS,
        checkpoint_every_n_steps=2,
        trainer={
            "max_steps": 2,
            "val_check_interval": 2,
            "check_val_every_n_epoch": None,
            "limit_val_batches": 1,
        },
        model={"adapter": {"heads": 2, "rank": 4, "alpha": 8}, "max_new_tokens": 6},
    )
    return root


def snapshot(run: Path) -> dict[str, str]:
    """sha256 of every file a command wrote into the run folder (checkpoints are the run's state, not logs)."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and "checkpoints" not in p.parts
    }


def assert_kept(before: dict[str, str], after: dict[str, str]) -> None:
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"earlier commands' files changed or vanished: {changed}"


def metric_rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_every_command_keeps_its_own_logs_and_nothing_is_overwritten(world, capsys):
    cfg = str(world / "fit.yaml")
    run = world / "runs" / "r"
    ckpt = str(run / "checkpoints" / "last.ckpt")

    run_lightning(["fit", "--config", cfg])
    fit_rows = metric_rows(run / "fit" / "metrics.csv")
    assert any(r.get("train/loss") for r in fit_rows)
    assert (run / "fit" / "config.yaml").is_file() and (run / "fit" / "tensorboard").is_dir()
    printed = capsys.readouterr().out
    assert "validation at step 2" in printed and "synth_ground" in printed  # the summary table after fit
    state = snapshot(run)

    run_lightning(["test", "--config", cfg, "--ckpt_path", ckpt, "--save_predictions", "true"])
    (test_dir,) = command_folders(run, "test")
    assert any(
        k.startswith("test/synth_cls/")
        for r in metric_rows(test_dir / "metrics.csv")
        for k, v in r.items()
        if v
    )
    printed = capsys.readouterr().out
    assert (
        "test results" in printed and "DataLoader 0" not in printed
    )  # one table, not Lightning's per-loader one
    rows = [json.loads(line) for line in (test_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * len(TRAIN_TASKS)
    assert_kept(state, snapshot(run))
    state = snapshot(run)

    # resume: 2 more steps from last.ckpt; the first fit's metrics.csv keeps its rows
    run_lightning(["fit", "--config", cfg, "--trainer.max_steps", "4", "--ckpt_path", ckpt])
    (first, resumed) = command_folders(run, "fit")
    assert first.name == "fit" and resumed.name.startswith("fit-")
    assert metric_rows(first / "metrics.csv") == fit_rows
    steps = {int(r["step"]) for r in metric_rows(resumed / "metrics.csv") if r.get("train/loss")}
    assert steps and min(steps) >= 2  # the resumed run logged its own steps 3-4
    assert_kept(state, snapshot(run))


def test_checkpoint_evaluates_other_tasks_splits_and_a_test_only_task(world, capsys):
    cfg = str(world / "fit.yaml")
    run = world / "runs" / "r"
    if not (run / "checkpoints" / "last.ckpt").is_file():
        run_lightning(["fit", "--config", cfg])
    ckpt = str(run / "checkpoints" / "last.ckpt")
    state = snapshot(run)
    # trained on [cls, ground]; evaluated on [qa] (no train split on disk) and on cls's val split
    run_lightning([
        "test", "--config", cfg, "--ckpt_path", ckpt, "--data.init_args.tasks", "[synth_qa, synth_cls]",
        "--data.init_args.test_split", "val",
    ])  # fmt: skip
    folder = command_folders(run, "test")[-1]
    logged = {k for r in metric_rows(folder / "metrics.csv") for k, v in r.items() if v}
    assert {"test/synth_qa/accuracy", "test/synth_cls/accuracy"} <= logged
    # the results store files them under the recipe that trained the checkpoint (the newest fit's config),
    # not under a recipe of the evaluated task set: synth_qa was never trained, so it has no row there
    store = ResultsStore(world / "runs" / "results.sqlite")
    tested = max(store.runs(name="r"), key=lambda r: r.created)
    assert list(tested.tasks) == TRAIN_TASKS
    assert tested.fingerprint == recipe_fingerprint(
        load_config(command_folders(run, "fit")[-1] / "config.yaml")
    )
    assert {row.task for row in store.rows(run_id=tested.run_id)} == {"synth_cls"}
    run_lightning(["validate", "--config", cfg, "--ckpt_path", ckpt, "--data.init_args.tasks", "[synth_qa]"])
    folder = command_folders(run, "validate")[-1]
    assert "val/synth_qa/accuracy" in {k for r in metric_rows(folder / "metrics.csv") for k in r}
    assert "validation results" in capsys.readouterr().out
    assert_kept(state, snapshot(run))


def expected_cls_score(row: dict) -> float:
    """synth_cls accuracy of one item: the parsed label equals the target label."""
    parsed = row["parsed"]
    return float(not parsed.get("unparseable") and parsed.get("label") == row["target"]["label"])


def test_predict_writes_one_row_per_item_and_resumes(world):
    cfg = str(world / "fit.yaml")
    run = world / "runs" / "r"
    if not (run / "checkpoints" / "last.ckpt").is_file():
        run_lightning(["fit", "--config", cfg])
    ckpt = str(run / "checkpoints" / "last.ckpt")
    run_lightning(["predict", "--config", cfg, "--ckpt_path", ckpt])
    folder = command_folders(run, "predict")[-1]
    lines = (folder / "predictions.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    total = sum(read_index(world / "data", t, "test")["num_samples"] for t in TRAIN_TASKS)
    assert len(rows) == total == len({(r["task"], r["key"]) for r in rows})
    for row in rows:
        assert {"task", "key", "prompt", "generated", "parsed", "target", "score", "primary_metric"} <= set(
            row
        )
        assert "<video>" in row["prompt"] or "<image>" in row["prompt"]
        if row["task"] == "synth_cls":
            assert row["score"]["accuracy"] == expected_cls_score(row)
            assert row["primary_metric"] == "accuracy"
    assert not list(folder.glob("predictions.rank*.jsonl"))  # merged

    # resume an interrupted predict: keep 2 rows and a torn line; the rest is generated, nothing twice
    (folder / "predictions.jsonl").unlink()
    (folder / "predictions.rank0.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])
    run_lightning(["predict", "--config", cfg, "--ckpt_path", ckpt, "--predictions_dir", str(folder)])
    again = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    assert sorted((r["task"], r["key"]) for r in again) == sorted((r["task"], r["key"]) for r in rows)
    assert all(row in again for row in rows[:2])  # the rows of the interrupted run are kept as written
    assert again == sorted(again, key=lambda r: (r["task"], r["key"]))
