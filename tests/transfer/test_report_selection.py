"""`crabplus transfer report` right after `transfer baselines` (issue: baselines that never validated, runs
named by opaque ids only, a default split one side lacked, `nan` instead of a plain message)."""

from __future__ import annotations

import sqlite3

import pytest
from tests.transfer.tiny_store import CONFIG, HIGHER

from crabplus.transfer import Recipe, ResultRow, ResultsStore, RunInfo, derive_single_tasks, select_runs
from crabplus.transfer.cli import main


@pytest.mark.unit
def test_baselines_validate_at_the_same_fraction_of_training():
    """Multitask: 30 steps, validation every 15 (half-way) and a checkpoint every 10; a single task keeps a
    third of the samples (10 steps), so validates every 5 steps and checkpoints every 3 (round(10/3))."""
    config = {
        **CONFIG,
        "checkpoint_every_n_steps": 10,
        "trainer": {"max_steps": 30, "val_check_interval": 15, "check_val_every_n_epoch": None},
    }
    derived = derive_single_tasks(config)
    for run in derived:
        trainer = run["config"]["trainer"]
        assert trainer["max_steps"] == 10
        assert trainer["val_check_interval"] == 5
        assert run["config"]["checkpoint_every_n_steps"] == 3


@pytest.mark.unit
def test_a_fractional_interval_is_left_alone():
    config = {**CONFIG, "trainer": {"max_steps": 30, "val_check_interval": 0.5}}
    assert derive_single_tasks(config)[0]["config"]["trainer"]["val_check_interval"] == 0.5


def add_run(store, run_id, recipe, name, values, split, variant="lora", seed=0):
    store.register_run(
        RunInfo(
            run_id,
            recipe.fingerprint,
            recipe.kind,
            tuple(recipe.tasks),
            variant,
            seed,
            {},
            recipe.to_dict(),
            created=1000.0 + len(store.runs()),
            name=name,
        )
    )
    store.add_results(
        ResultRow(run_id, recipe.fingerprint, t, m, v, HIGHER[m], 10, 2000.0, split)
        for t, ms in values.items()
        for m, v in ms.items()
    )


@pytest.fixture()
def store(tmp_path):
    """Baselines with *test* results only (as `transfer baselines --test` leaves them when they never
    validated), a multitask run `mt_lora` with val and test rows, in two processes (fit, then test)."""
    store = ResultsStore(tmp_path / "results.sqlite")
    lora = Recipe.from_config(CONFIG)
    for task, value in (("a", 0.5), ("b", 0.4), ("c", 0.8)):
        add_run(
            store,
            f"st-{task}",
            lora.single_task(task),
            f"{task}-{lora.single_task(task).fingerprint[:8]}",
            {task: {"acc": value}},
            "test",
        )
    add_run(
        store, "fit-123", lora, "mt_lora", {"a": {"acc": 0.9}, "b": {"acc": 0.9}, "c": {"acc": 0.9}}, "val"
    )
    add_run(
        store,
        "test-456",
        lora,
        "mt_lora",
        {"a": {"acc": 0.55}, "b": {"acc": 0.44}, "c": {"acc": 0.72}},
        "test",
    )
    return store


@pytest.mark.integration
def test_report_by_run_name_defaults_to_the_split_both_sides_have(store, tmp_path, capsys):
    code = main(["report", "mt_lora", "--store", str(store.path), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "split: test" in out
    assert "nan" not in out.lower()
    assert "+10.00%" in out and "-10.00%" in out  # a: 0.55 vs 0.50, c: 0.72 vs 0.80


@pytest.mark.integration
def test_columns_are_labelled_by_run_name(store, tmp_path, capsys):
    ilora = Recipe.from_config(
        {**CONFIG, "model": {**CONFIG["model"], "adapter": {"variant": "ilora", "rank": 4, "heads": 3}}}
    )
    add_run(
        store,
        "eval-789",
        ilora,
        "mt_ilora",
        {"a": {"acc": 0.6}, "b": {"acc": 0.4}, "c": {"acc": 0.8}},
        "test",
        variant="ilora",
    )
    code = main(
        [
            "report",
            "mt_lora",
            "mt_ilora",
            "--baseline-from",
            "mt_lora",
            "--store",
            str(store.path),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| task"))
    assert code == 0
    assert header == "| task | mt_lora | mt_ilora |"


@pytest.mark.integration
def test_missing_baselines_are_said_plainly(tmp_path, capsys):
    store = ResultsStore(tmp_path / "results.sqlite")
    lora = Recipe.from_config(CONFIG)
    add_run(store, "fit-1", lora, "lonely", {"a": {"acc": 0.9}}, "val")
    code = main(["report", "lonely", "--store", str(store.path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no split with results for both the run and its single-task baselines: lonely" in err
    assert main(["report", "nobody", "--store", str(store.path)]) == 2
    assert "multitask run names: lonely" in capsys.readouterr().err


@pytest.mark.unit
def test_a_version_1_store_gains_run_names(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, kind TEXT NOT NULL, tasks TEXT"
            " NOT NULL, variant TEXT NOT NULL, seed INTEGER, config TEXT NOT NULL, recipe TEXT, created REAL NOT"
            " NULL); INSERT INTO runs VALUES ('r1', 'fp', 'multitask', '[\"a\"]', 'lora', 0, '{}', NULL, 1.0);"
            " PRAGMA user_version = 1;"
        )
    store = ResultsStore(path)
    assert store.run("r1").name is None and store.run("r1").label == "r1"
    store.register_run(RunInfo("r2", "fp", "multitask", ("a",), "lora", 0, {}, None, 2.0, name="named"))
    assert [r.run_id for r in select_runs(store, "named")] == ["r2"]
    assert store.schema_version == 2
