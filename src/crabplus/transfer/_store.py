"""The results store: one embedded SQLite file (default ``runs/results.sqlite``) shared by all runs.

Tables (schema version in ``PRAGMA user_version``, see ``SCHEMA_VERSION``):

- ``runs(run_id PK, fingerprint, kind ∈ {single_task, multitask}, tasks JSON, variant, seed, config JSON,
  recipe JSON, created, name)`` — one row per training/evaluation process; ``name`` is the run's
  ``run_name`` (its folder), which fit, test and eval-all processes of one run share.
- ``results(id, run_id, fingerprint, task, metric, value, higher_is_better, step, time, split)`` — the
  architecture contract's row plus ``split`` ("val"/"test"), so test numbers never mix with validation.
- ``items(run_id, split, task, item, step, prediction JSON, target JSON, scores JSON)`` — every evaluated
  item of a run's latest evaluation per split: what the paired bootstrap resamples (``_bootstrap.py``).

Version 1 stores (no ``name``, no ``items``) are upgraded in place on first use.

Concurrency decisions: WAL journal (readers never block the writer), a 60 s busy timeout, every write in one
``BEGIN IMMEDIATE`` transaction (takes the write lock up front, so two writers queue instead of deadlocking on a
read→write upgrade) plus a short retry on "database is locked". A connection is opened per operation, so a
store object is safe to pickle into worker processes and to use after ``fork``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_STORE", "SCHEMA_VERSION", "ItemRow", "ResultRow", "ResultsStore", "RunInfo"]

DEFAULT_STORE = "runs/results.sqlite"
SCHEMA_VERSION = 2
KINDS = ("single_task", "multitask")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('single_task', 'multitask')),
    tasks TEXT NOT NULL, variant TEXT NOT NULL, seed INTEGER, config TEXT NOT NULL,
    recipe TEXT, created REAL NOT NULL, name TEXT);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    task TEXT NOT NULL, metric TEXT NOT NULL, value REAL, higher_is_better INTEGER NOT NULL,
    step INTEGER NOT NULL, time REAL NOT NULL, split TEXT NOT NULL DEFAULT 'val');
CREATE INDEX IF NOT EXISTS results_by_fingerprint ON results(fingerprint, task, metric);
CREATE INDEX IF NOT EXISTS results_by_run ON results(run_id, split);
CREATE INDEX IF NOT EXISTS runs_by_fingerprint ON runs(fingerprint, kind, seed);
CREATE TABLE IF NOT EXISTS items (
    run_id TEXT NOT NULL, split TEXT NOT NULL, task TEXT NOT NULL, item TEXT NOT NULL, step INTEGER NOT NULL,
    prediction TEXT NOT NULL, target TEXT NOT NULL, scores TEXT NOT NULL,
    PRIMARY KEY (run_id, split, task, item));
"""


@dataclass(frozen=True)
class RunInfo:
    """One row of ``runs``."""

    run_id: str
    fingerprint: str
    kind: str
    tasks: tuple[str, ...]
    variant: str = "default"
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] | None = None
    created: float = 0.0
    name: str | None = None

    @property
    def label(self) -> str:
        """How reports name the run: its ``run_name``, else its id."""
        return self.name or self.run_id


@dataclass(frozen=True)
class ResultRow:
    """One row of ``results`` (the architecture contract plus ``split``)."""

    run_id: str
    fingerprint: str
    task: str
    metric: str
    value: float
    higher_is_better: bool
    step: int
    time: float
    split: str = "val"


@dataclass(frozen=True)
class ItemRow:
    """One evaluated item: its prediction and target as JSON text (``_items.to_json``) and its own scores
    (the task metric computed on this item alone: for reading, not for averaging)."""

    task: str
    item: str
    prediction: str
    target: str
    scores: dict[str, float] = field(default_factory=dict)


class ResultsStore:
    """Read/write access to one SQLite results file; created (with parent folders) on first use."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._ready = False

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: still crash-safe, no fsync per commit
            if not self._ready:
                self._init_schema(conn)
            yield conn
        finally:
            conn.close()

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"results store {self.path} has schema version {version}; this crabplus reads "
                    f"<= {SCHEMA_VERSION}. Upgrade crabplus or use another store."
                )
            if version == 1:  # v1 → v2: the run name column (the items table is created below)
                conn.execute("ALTER TABLE runs ADD COLUMN name TEXT")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._ready = True

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """``executemany`` in one immediate transaction, retried while another writer holds the lock."""
        for attempt in range(20):
            try:
                with self._connect() as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        conn.executemany(sql, rows)
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err) or attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connect() as conn:
            return conn.execute(sql, args).fetchall()

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    def register_run(self, run: RunInfo) -> None:
        """Insert ``run``; a run id already present (a resumed run) keeps its first row."""
        if run.kind not in KINDS:
            raise ValueError(f"run kind {run.kind!r} of run {run.run_id!r} is not one of {KINDS}")
        row = (
            run.run_id,
            run.fingerprint,
            run.kind,
            json.dumps(list(run.tasks)),
            run.variant,
            run.seed,
            json.dumps(run.config, default=str),
            None if run.recipe is None else json.dumps(run.recipe),
            run.created or time.time(),
            run.name,
        )
        self._write(
            "INSERT INTO runs (run_id, fingerprint, kind, tasks, variant, seed, config, recipe, created,"
            " name) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id) DO NOTHING",
            [row],
        )

    def add_results(self, rows: Iterable[ResultRow]) -> None:
        """Append result rows in one transaction."""
        data = [
            (
                r.run_id,
                r.fingerprint,
                r.task,
                r.metric,
                float(r.value),
                int(bool(r.higher_is_better)),
                int(r.step),
                float(r.time),
                r.split,
            )
            for r in rows
        ]
        if data:
            self._write(
                "INSERT INTO results (run_id, fingerprint, task, metric, value, higher_is_better, step, time,"
                " split) VALUES (?,?,?,?,?,?,?,?,?)",
                data,
            )

    def runs(
        self,
        *,
        kind: str | None = None,
        fingerprint: str | None = None,
        variant: str | None = None,
        seed: int | None = None,
        name: str | None = None,
    ) -> list[RunInfo]:
        """Runs matching every given filter, oldest first."""
        where, args = _where(
            {"kind": kind, "fingerprint": fingerprint, "variant": variant, "seed": seed, "name": name}
        )
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY created, run_id", args)
        return [_run_from_row(r) for r in rows]

    def run(self, run_id: str) -> RunInfo:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise KeyError(f"run {run_id!r} is not in the results store {self.path}")
        return _run_from_row(rows[0])

    def rows(
        self, *, run_id: str | None = None, fingerprint: str | None = None, split: str | None = None
    ) -> list[ResultRow]:
        where, args = _where({"run_id": run_id, "fingerprint": fingerprint, "split": split})
        cols = "run_id, fingerprint, task, metric, value, higher_is_better, step, time, split"
        return [
            ResultRow(*r[:5], bool(r[5]), *r[6:])
            for r in self._read(f"SELECT {cols} FROM results{where} ORDER BY id", args)
        ]

    def final_metrics(self, run_id: str, split: str = "val") -> dict[str, dict[str, float]]:
        """task → metric → value at the run's last recorded step (the latest write wins within a step)."""
        last: dict[tuple[str, str], tuple[int, float]] = {}
        for row in self.rows(run_id=run_id, split=split):  # insertion order
            key = (row.task, row.metric)
            if key not in last or row.step >= last[key][0]:
                last[key] = (row.step, row.value)
        out: dict[str, dict[str, float]] = {}
        for (task, metric), (_, value) in last.items():
            out.setdefault(task, {})[metric] = value
        return out

    def add_items(self, run_id: str, split: str, step: int, items: Iterable[ItemRow]) -> None:
        """Store one evaluation's items; an item evaluated again (a later step) replaces its row."""
        data = [
            (run_id, split, i.task, i.item, int(step), i.prediction, i.target, json.dumps(i.scores))
            for i in items
        ]
        if data:
            self._write("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?,?,?)", data)

    def items(self, run_id: str, split: str, task: str | None = None) -> list[ItemRow]:
        """The items of ``run_id``'s latest evaluation on ``split`` (optionally one task), by item key."""
        where, args = _where({"run_id": run_id, "split": split, "task": task})
        rows = self._read(
            f"SELECT task, item, prediction, target, scores FROM items{where} ORDER BY task, item", args
        )
        return [
            ItemRow(task, item, prediction, target, json.loads(scores))
            for task, item, prediction, target, scores in rows
        ]

    def directions(self, run_id: str) -> dict[str, bool]:
        """``"task/metric"`` → higher_is_better as recorded with the run's rows."""
        return {f"{r.task}/{r.metric}": r.higher_is_better for r in self.rows(run_id=run_id)}


_RUN_COLUMNS = "run_id, fingerprint, kind, tasks, variant, seed, config, recipe, created, name"


def _where(filters: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    used = {k: v for k, v in filters.items() if v is not None}
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(f"{k} = ?" for k in used), tuple(used.values())


def _run_from_row(row: tuple[Any, ...]) -> RunInfo:
    run_id, fp, kind, tasks, variant, seed, config, recipe, created, name = row
    return RunInfo(
        run_id,
        fp,
        kind,
        tuple(json.loads(tasks)),
        variant,
        seed,
        json.loads(config),
        None if recipe is None else json.loads(recipe),
        created,
        name,
    )
