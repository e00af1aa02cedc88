"""Results store: round trip, final-step rule, schema version, and two concurrent writers losing no rows."""

import multiprocessing as mp
import sqlite3

import pytest

from crabplus.transfer import SCHEMA_VERSION, ResultRow, ResultsStore, RunInfo

ROWS_PER_WRITER = 150


def _writer(path: str, name: str) -> None:
    store = ResultsStore(path)
    store.register_run(RunInfo(name, "fp", "multitask", ("a", "b"), "lora", 0, {"k": name}))
    for step in range(ROWS_PER_WRITER):  # one transaction per row: maximal interleaving
        store.add_results([ResultRow(name, "fp", "a", "acc", step / 1000, True, step, float(step))])


@pytest.mark.unit
def test_round_trip_and_final_metrics(tmp_path):
    store = ResultsStore(tmp_path / "sub" / "r.sqlite")
    store.register_run(
        RunInfo("r1", "fp1", "single_task", ("a",), "lora", 3, {"model": {"preset": "p"}}, {"preset": "p"})
    )
    store.register_run(RunInfo("r1", "other", "multitask", ("x",)))  # resumed run: first row kept
    store.add_results(
        [
            ResultRow("r1", "fp1", "a", "acc", 0.1, True, 10, 1.0),
            ResultRow("r1", "fp1", "a", "acc", 0.3, True, 20, 2.0),
            ResultRow("r1", "fp1", "a", "acc", 0.2, True, 5, 3.0),  # late write of an earlier step
            ResultRow("r1", "fp1", "a", "wer", 0.4, False, 20, 2.0),
            ResultRow("r1", "fp1", "a", "acc", 0.9, True, 20, 4.0, split="test"),
        ]
    )
    run = store.run("r1")
    assert (run.fingerprint, run.kind, run.tasks, run.seed, run.recipe) == (
        "fp1",
        "single_task",
        ("a",),
        3,
        {"preset": "p"},
    )
    assert store.final_metrics("r1") == {"a": {"acc": 0.3, "wer": 0.4}}
    assert store.final_metrics("r1", split="test") == {"a": {"acc": 0.9}}
    assert store.directions("r1") == {"a/acc": True, "a/wer": False}
    assert [r.run_id for r in store.runs(kind="single_task", fingerprint="fp1", seed=3)] == ["r1"]
    assert store.runs(kind="multitask") == []
    assert store.schema_version == SCHEMA_VERSION


@pytest.mark.unit
def test_errors_name_things(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(KeyError, match="nope"):
        store.run("nope")
    with pytest.raises(ValueError, match="weird"):
        store.register_run(RunInfo("r", "fp", "weird", ()))


@pytest.mark.unit
def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultsStore(path).runs()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="schema version"):
        ResultsStore(path).runs()


@pytest.mark.integration
def test_two_processes_write_at_once_without_losing_rows(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, name)) for name in ("w1", "w2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultsStore(path)
    assert {r.run_id for r in store.runs()} == {"w1", "w2"}
    for name in ("w1", "w2"):
        rows = store.rows(run_id=name)
        assert sorted(r.step for r in rows) == list(range(ROWS_PER_WRITER))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
