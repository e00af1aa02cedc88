"""Where a run's files live: one folder per run, one sub-folder per command, nothing ever overwritten.

``<runs_dir>/<run_name>/`` holds ``checkpoints/`` (shared by the first fit and every resume) and one folder
per command that ran on the run: ``fit/`` for the first ``crabplus fit``, ``fit-<time>/`` for each resume,
``validate-<time>/``, ``test-<time>/``, ``predict-<time>/``. Each command's folder holds its own
``config.yaml``, ``metrics.csv``, ``hparams.yaml``, ``tensorboard/`` and what its callbacks write (transfer
report, routing statistics, predictions). The results store is ``<runs_dir>/results.sqlite``.

Why per-command folders: Lightning's CSV logger replaces ``metrics.csv`` when it starts in a folder that has
one, and LightningCLI overwrites ``config.yaml``; a test after a fit, or a resumed fit, used to erase the
training history.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "STAGES",
    "command_folder",
    "command_folders",
    "find_routing_stats",
    "fit_config_path",
    "latest_command_folder",
    "locate_runs_dir",
    "locate_store",
    "run_folder",
]

STAGES = ("fit", "validate", "test", "predict")
STORE_NAME = "results.sqlite"


def run_folder(runs_dir: str | os.PathLike, run_name: str) -> Path:
    return Path(runs_dir) / run_name


def command_folder(run_dir: str | os.PathLike, stage: str, now: float | None = None) -> Path:
    """A folder name for one command on ``run_dir`` that no earlier command used (not created here).

    The first fit gets ``fit``; everything else ``<stage>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... when a
    command of the same stage started within the same second.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    run_dir = Path(run_dir)
    if stage == "fit" and not (run_dir / "fit").exists():
        return run_dir / "fit"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    candidate, n = run_dir / f"{stage}-{stamp}", 1
    while candidate.exists():
        n += 1
        candidate = run_dir / f"{stage}-{stamp}-{n}"
    return candidate


def command_folders(run_dir: str | os.PathLike, stage: str | None = None) -> list[Path]:
    """The command folders of a run, oldest first (by the time in their name; the first ``fit`` first)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    stages = STAGES if stage is None else (stage,)
    found = [p for p in run_dir.iterdir() if p.is_dir() and _stage_of(p.name) in stages]
    return sorted(found, key=lambda p: (p.name.partition("-")[2] or "0", p.name))


def latest_command_folder(run_dir: str | os.PathLike, stage: str | None = None) -> Path | None:
    folders = command_folders(run_dir, stage)
    return folders[-1] if folders else None


def _stage_of(name: str) -> str | None:
    stage, _, rest = name.partition("-")
    if stage in STAGES and (not rest or rest[:1].isdigit()):
        return stage
    return None


def fit_config_path(run_dir: str | os.PathLike) -> Path | None:
    """The config of the latest fit of a run (``fit*/config.yaml``), or a pre-layout ``config.yaml``."""
    for folder in reversed(command_folders(run_dir, "fit")):
        if (folder / "config.yaml").is_file():
            return folder / "config.yaml"
    legacy = Path(run_dir) / "config.yaml"
    return legacy if legacy.is_file() else None


def _upwards(start: Path) -> Iterator[Path]:
    start = start.resolve()
    yield start
    yield from start.parents


def locate_store(start: str | os.PathLike | None = None) -> Path | None:
    """The results store a notebook or tool should read, found the way the CLI finds it.

    ``$CRABPLUS_RESULTS_STORE`` if set; else ``runs/results.sqlite`` under ``$CRABPLUS_RUNS_DIR``; else the
    first ``runs/results.sqlite`` in ``start`` (default: the working directory) or one of its parents, so a
    notebook opened in ``notebooks/`` finds the store the CLI wrote from the repository root.
    """
    if os.environ.get("CRABPLUS_RESULTS_STORE"):
        return Path(os.environ["CRABPLUS_RESULTS_STORE"])
    if os.environ.get("CRABPLUS_RUNS_DIR"):
        return Path(os.environ["CRABPLUS_RUNS_DIR"]) / STORE_NAME
    for folder in _upwards(Path(start or Path.cwd())):
        if (folder / "runs" / STORE_NAME).is_file():
            return folder / "runs" / STORE_NAME
    return None


def locate_runs_dir(start: str | os.PathLike | None = None) -> Path | None:
    """``$CRABPLUS_RUNS_DIR``, else the folder of the located store, else the first ``runs/`` folder in
    ``start`` (default: the working directory) or one of its parents."""
    if os.environ.get("CRABPLUS_RUNS_DIR"):
        return Path(os.environ["CRABPLUS_RUNS_DIR"])
    store = locate_store(start)
    if store is not None:
        return store.parent
    return next(
        (folder / "runs" for folder in _upwards(Path(start or Path.cwd())) if (folder / "runs").is_dir()),
        None,
    )


def find_routing_stats(runs_dir: str | os.PathLike, run_name: str | None = None) -> Path | None:
    """The newest ``routing/`` folder (``RoutingStatsCallback``'s output) of run ``run_name``, or of any run
    under ``runs_dir`` when no name is given; None when no run wrote routing statistics."""
    runs_dir = Path(runs_dir)
    run_dirs = [runs_dir / run_name] if run_name else [p for p in runs_dir.iterdir() if p.is_dir()]
    found = [
        folder / "routing"
        for run_dir in run_dirs
        for folder in [*command_folders(run_dir), run_dir]
        if any((folder / "routing").glob("routing_stats_step*.json"))
    ]
    return max(
        found, key=lambda p: max(f.stat().st_mtime for f in p.glob("routing_stats_step*.json")), default=None
    )
