"""Thin launcher for derived baseline / pairwise runs: plan (pure + one store read), write YAMLs, run.

Each planned run is ``crabplus fit --config <run_dir>/config.yaml`` and, with ``test=True``,
``crabplus test --config ... --ckpt_path <run_dir>/checkpoints/last.ckpt``. The derived YAML carries a
``TransferCallback`` with the predicted fingerprint, so results land in the store under it. Runs already in the
store (same fingerprint, seed and kind, with rows for the split) are skipped. Runs go one at a time unless
``jobs`` asks for more (useful when one tiny run cannot keep the machine's cores busy).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crabplus.transfer._derive import derive_subset_config
from crabplus.transfer._recipe import Recipe
from crabplus.transfer._store import ResultsStore

__all__ = [
    "PlannedRun",
    "default_launcher",
    "execute",
    "load_config",
    "plan_runs",
    "resolve_config",
    "write_config",
]

CHECKPOINT_CLASS_PATH = "lightning.pytorch.callbacks.ModelCheckpoint"


@dataclass
class PlannedRun:
    """One derived run: where its YAML goes, what it is, whether the store already has it."""

    tasks: list[str]
    fingerprint: str
    seed: int | None
    run_dir: Path
    config: dict[str, Any]
    done: bool
    commands: list[list[str]] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.run_dir / "config.yaml"


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a LightningCLI YAML with omegaconf (interpolations resolved), as plain containers."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)  # type: ignore[return-value]


def resolve_config(path: str | Path, launcher: Sequence[str] | None = None) -> dict[str, Any]:
    """The config as the training process will see it: ``crabplus fit --config PATH --print_config``.

    Why: a run records the recipe of its *resolved* config (LightningCLI's saved ``config.yaml``, defaults
    filled in). Deriving baselines from the raw YAML would hash a partial optimizer/adapter dict and miss them.
    Falls back to the raw YAML (with a warning on stderr) when the CLI cannot print the config.
    """
    import yaml

    command = [*(launcher or default_launcher()), "fit", "--config", str(path), "--print_config"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
        config = yaml.safe_load(done.stdout)
        if isinstance(config, dict):
            return config
    except (OSError, subprocess.SubprocessError, yaml.YAMLError) as err:
        print(f"warning: `{shlex.join(command)}` failed ({err}); using the raw YAML", file=sys.stderr)
    return load_config(path)


def write_config(config: Mapping[str, Any], path: Path) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")


def default_launcher() -> list[str]:
    """The ``crabplus`` script beside this interpreter (the venv's), else whatever is on PATH."""
    script = Path(sys.executable).parent / "crabplus"
    return [str(script)] if script.exists() else ["crabplus"]


def _has_results(store: ResultsStore, fingerprint: str, kind: str, seed: int | None, split: str) -> bool:
    return any(
        store.rows(run_id=r.run_id, split=split)
        for r in store.runs(kind=kind, fingerprint=fingerprint, seed=seed)
    )


def _add_checkpoint(config: dict[str, Any], dirpath: Path) -> None:
    callbacks = config.setdefault("trainer", {}).setdefault("callbacks", [])
    callbacks.append(
        {
            "class_path": CHECKPOINT_CLASS_PATH,
            "init_args": {"dirpath": str(dirpath), "save_last": True, "save_top_k": 0},
        }
    )


def plan_runs(
    config: Mapping[str, Any],
    subsets: Sequence[Sequence[str]],
    store: ResultsStore,
    out_dir: str | Path,
    seeds: Sequence[int | None] = (None,),
    test: bool = False,
    launcher: Sequence[str] | None = None,
) -> list[PlannedRun]:
    """Derive one run per (task subset, seed) and mark those the store already holds."""
    launcher = list(launcher or default_launcher())
    split = "test" if test else "val"
    plans = []
    for tasks in subsets:
        for seed in seeds:
            fp = Recipe.from_config(config).subset(tasks).fingerprint
            suffix = "" if seed is None else f"-s{seed}"
            run_dir = Path(out_dir) / f"{'+'.join(tasks)}-{fp[:8]}{suffix}"
            derived = derive_subset_config(
                config, tasks, seed=seed, store=str(store.path), run_dir=str(run_dir), run_name=run_dir.name
            )
            if test:
                _add_checkpoint(derived["config"], run_dir / "checkpoints")
            kind = "single_task" if len(tasks) == 1 else "multitask"
            plan = PlannedRun(
                list(tasks),
                fp,
                derived["seed"],
                run_dir,
                derived["config"],
                _has_results(store, fp, kind, derived["seed"], split),
            )
            plan.commands = [[*launcher, "fit", "--config", str(plan.config_path)]]
            if test:
                # its logs go to <run>/test-<time>/ beside the fit's <run>/fit/ (the CLI's run layout)
                plan.commands.append(
                    [
                        *launcher,
                        "test",
                        "--config",
                        str(plan.config_path),
                        "--ckpt_path",
                        str(run_dir / "checkpoints" / "last.ckpt"),
                    ]
                )
            plans.append(plan)
    return plans


def run_prefixed(command: list[str], prefix: str, lock: threading.Lock) -> int:
    """Run ``command`` with every output line printed whole, prefixed ``[prefix]`` (runs started at once
    otherwise interleave their output mid-line)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        with lock:
            print(f"[{prefix}] {line}", end="" if line.endswith("\n") else "\n", flush=True)
    return proc.wait()


def execute(
    plans: Sequence[PlannedRun],
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    run: Callable[[list[str]], int] | None = None,
    jobs: int = 1,
) -> int:
    """Write configs and run (or, with ``dry_run``, print) the commands of runs not yet done.

    ``jobs`` runs that many baselines at once (each run's own commands stay in order); on a machine whose
    cores one small run cannot keep busy this shortens the wall time. Runs share the results store,
    which takes concurrent writers (WAL, busy timeout). With ``jobs`` > 1 every output line of a run is
    prefixed with its folder name (``run`` default only).

    Returns the number of failed runs (0 on success); a failed run does not stop the others.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    todo = []
    for plan in plans:
        label = f"{'+'.join(plan.tasks)} seed={plan.seed} fingerprint={plan.fingerprint}"
        if plan.done:
            echo(f"# in store: {label}")
            continue
        write_config(plan.config, plan.config_path)
        todo.append((plan, label))
    lock = threading.Lock()

    def start(command: list[str], plan: PlannedRun) -> int:
        if run is not None:
            return run(command)
        if jobs > 1:
            return run_prefixed(command, plan.run_dir.name, lock)
        return subprocess.run(command, check=False).returncode

    def launch(plan: PlannedRun, label: str) -> int:
        echo(f"# missing: {label}")
        for command in plan.commands:
            echo(shlex.join(command))
            if not dry_run and start(command, plan) != 0:
                echo(f"# FAILED: {label}")
                return 1
        return 0

    if jobs == 1 or dry_run:
        return sum(launch(plan, label) for plan, label in todo)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return sum(pool.map(lambda item: launch(*item), todo))
