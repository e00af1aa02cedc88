"""``crabplus eval-all``: evaluate configured checkpoints on every configured task; one table, three forms.

For each run (a run folder ``runs/<name>/`` with the config its last fit saved, ``fit*/config.yaml``, and a
checkpoint, or an
explicit ``{name, config, ckpt_path}``) it runs ``crabplus test`` in-process on a *derived* config, reads the
rows the results store received, scores each task's trivial baseline (:mod:`crabplus.evaluate.trivial`), and
prints task × metric × run with the baseline as an extra column: Markdown to stdout and
``<out>/eval_all.md``, ``<out>/eval_all.csv`` (rendering: :mod:`crabplus.evaluate.table`).

Decisions:

* Derived config, not the run's own: the evaluation's logs belong to eval-all's output, not to the run
  folder, and its rows must be found again under a known run id. The derived config is
  the saved one with ``runs_dir: <out>``, ``ckpt_path`` set, the task selection as ``eval`` flags (task ids
  and the recipe fingerprint stay those of training) and exactly one ``TransferCallback`` writing to the
  configured store under a known ``run_id``, so the rows of this evaluation can be read back and checked.
  It is kept in ``<out>/configs/<name>.yaml``: ``crabplus test --config`` on it reproduces one run's numbers.
* The real LightningCLI (``crabplus.train.lightning_cli.run_lightning``) builds module and data module, so ``class_path``
  configs, defaults and the CLI's callbacks behave exactly as in ``crabplus fit``.
* Every run and checkpoint is checked before the first evaluation: a typo fails in a second, naming the run.

The store rows carry ``split = "test"`` (what ``TransferCallback`` records for a test), also when ``split:``
points the test loaders at another split folder.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crabplus.evaluate.table import RunResult, markdown_table, write_csv
from crabplus.overrides import flags_to_dotlist
from crabplus.train.run_layout import fit_config_path

__all__ = [
    "EvalAllConfig",
    "EvalAllError",
    "RunSpec",
    "derive_config",
    "evaluate_run",
    "load_eval_config",
    "main",
    "resolve_runs",
    "run_eval_all",
]

TRANSFER_CALLBACK = "crabplus.train.callbacks.transfer.TransferCallback"


class EvalAllError(Exception):
    """A configuration or evaluation problem; the message names the run, key or file."""


@dataclass
class EvalAllConfig:
    """What ``crabplus eval-all`` evaluates (``configs/eval_all.yaml``; ``key=value`` overrides on the command line).

    Attributes:
        runs: run folders (globs allowed; a glob keeps folders holding a ``config.yaml``) or mappings
            ``{config, ckpt_path, name}`` (``name`` defaults to the config's folder name).
        tasks: tasks to evaluate; None = every evaluated task (``eval`` not false) of each run's config.
            A task a run was not configured with is left out of that run with a warning.
        split: split folder the test loaders read; None = each run's ``data.test_split``.
        store: the results store (SQLite) that receives one row per run, task and metric.
        out: folder of the table files, the derived configs and each evaluation's logs.
        checkpoint: checkpoint path inside a run folder (for folder entries).
        trainer: overrides merged into each run's ``trainer`` section (e.g. ``limit_test_batches``, ``devices``).
        trivial: also score each task's trivial baseline (majority class, whole clip, centre box, empty mask).
        margin: gain of the primary metric over the trivial baseline that counts as "beats it" in the summary
            (metric units, e.g. 0.05 = five accuracy points).
    """

    runs: list[Any] = field(default_factory=list)
    tasks: list[str] | None = None
    split: str | None = None
    store: str = "runs/results.sqlite"
    out: str = "runs/eval_all"
    checkpoint: str = "checkpoints/last.ckpt"
    trainer: dict[str, Any] = field(default_factory=dict)
    trivial: bool = True
    margin: float = 0.0


@dataclass(frozen=True)
class RunSpec:
    """One checkpoint to evaluate: its table name, saved config and checkpoint file."""

    name: str
    config: Path
    ckpt_path: Path


# ----- configuration -----------------------------------------------------------------------------------
def load_eval_config(path: str | Path | None, overrides: Sequence[str] = ()) -> EvalAllConfig:
    """YAML plus omegaconf dotlist overrides over the typed defaults; unknown keys raise naming the key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(EvalAllConfig),
            OmegaConf.load(path) if path else OmegaConf.create({}),
            OmegaConf.from_dotlist(list(overrides)),
        )
    except OmegaConfBaseException as err:
        raise EvalAllError(f"eval-all config {path}: {err}") from err
    config = EvalAllConfig(**OmegaConf.to_container(merged, resolve=True))  # type: ignore[arg-type]
    if not config.runs:
        raise EvalAllError(f"eval-all config {path}: key 'runs' lists no run")
    return config


def resolve_runs(entries: Sequence[Any], checkpoint: str) -> list[RunSpec]:
    """Run folders, globs and explicit entries as :class:`RunSpec`; every config and checkpoint must exist."""
    specs: list[RunSpec] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str) and glob.has_magic(entry):
            folders = sorted(p for p in map(Path, glob.glob(entry)) if fit_config_path(p) is not None)
            if not folders:
                raise EvalAllError(f"runs[{i}]: {entry!r} matches no run folder with a config.yaml")
            specs += [_folder_run(folder, checkpoint, f"runs[{i}]") for folder in folders]
        elif isinstance(entry, str):
            specs.append(_folder_run(Path(entry), checkpoint, f"runs[{i}]"))
        else:
            specs.append(_explicit_run(dict(entry), f"runs[{i}]"))
    seen: dict[str, RunSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise EvalAllError(
                f"run name {spec.name!r} is used twice ({seen[spec.name].config}, {spec.config}); "
                "give explicit entries a distinct `name`"
            )
        seen[spec.name] = spec
    return specs


def _folder_run(folder: Path, checkpoint: str, where: str) -> RunSpec:
    if not folder.is_dir():
        raise EvalAllError(f"{where}: run folder {folder} does not exist")
    config = fit_config_path(folder) or folder / "fit" / "config.yaml"  # missing: _checked says so
    return _checked(RunSpec(folder.name, config, folder / checkpoint), where)


def _explicit_run(entry: dict[str, Any], where: str) -> RunSpec:
    unknown = set(entry) - {"name", "config", "ckpt_path"}
    if unknown or "config" not in entry or "ckpt_path" not in entry:
        raise EvalAllError(
            f"{where}: an explicit run needs keys config and ckpt_path (optional name); got {sorted(entry)}"
        )
    config = Path(entry["config"])
    return _checked(
        RunSpec(str(entry.get("name") or config.parent.name), config, Path(entry["ckpt_path"])), where
    )


def _checked(spec: RunSpec, where: str) -> RunSpec:
    if not spec.config.is_file():
        raise EvalAllError(f"{where}: run {spec.name!r} has no config {spec.config}")
    if not spec.ckpt_path.is_file():
        raise EvalAllError(
            f"{where}: run {spec.name!r} has no checkpoint {spec.ckpt_path} "
            "(train it first, or set `checkpoint:` / an explicit `ckpt_path`)"
        )
    return spec


# ----- one run --------------------------------------------------------------------------------------------
def derive_config(
    saved: dict[str, Any], spec: RunSpec, config: EvalAllConfig, run_id: str, fingerprint: str | None
) -> dict[str, Any]:
    """The run's saved LightningCLI config turned into this evaluation's ``crabplus test`` config."""
    import copy

    derived = copy.deepcopy(saved)
    derived.update(run_name=spec.name, runs_dir=config.out, ckpt_path=str(spec.ckpt_path))
    trainer = dict(derived.get("trainer") or {})
    trainer["enable_checkpointing"] = False  # an evaluation writes no checkpoint
    trainer.update(config.trainer)
    trainer["default_root_dir"] = None  # the CLI puts logs under runs_dir/run_name
    callbacks = trainer.get("callbacks") or []
    callbacks = [callbacks] if isinstance(callbacks, dict) else list(callbacks)
    kept = [c for c in callbacks if not _is_transfer(c)]
    configured = [c for c in callbacks if _is_transfer(c)]
    transfer_args = dict((configured[0].get("init_args") or {}) if configured else {})
    transfer_args.update(
        store=config.store, run_id=run_id, fingerprint=fingerprint, write_files=False, run_name=spec.name
    )
    trainer["callbacks"] = [*kept, {"class_path": TRANSFER_CALLBACK, "init_args": transfer_args}]
    derived["trainer"] = trainer
    data = derived.get("data") or {}
    data_args = data.get("init_args", data) if isinstance(data, dict) else {}
    if config.split is not None:
        data_args["test_split"] = config.split
    if config.tasks is not None and "tasks" in data_args:
        data_args["tasks"] = _select_tasks(data_args["tasks"], config.tasks, spec.name)
    return derived


def _is_transfer(callback: Any) -> bool:
    return isinstance(callback, dict) and str(callback.get("class_path", "")).endswith("TransferCallback")


def _select_tasks(entries: list[Any], wanted: list[str], run: str) -> list[dict[str, Any]]:
    """``eval`` flags for the selection; the task list itself (train order = task ids) is kept."""
    out = [{"name": e} if isinstance(e, str) else dict(e) for e in entries]
    names = [e["name"] for e in out]
    absent = [t for t in wanted if t not in names]
    if absent:
        warnings.warn(
            f"run {run!r} was not configured with task(s) {absent}; they are left out of it", stacklevel=3
        )
    if not set(wanted) & set(names):
        raise EvalAllError(f"run {run!r}: none of tasks {wanted} is in its data.tasks {names}")
    for entry in out:
        entry["eval"] = entry["name"] in wanted
    return out


def _fingerprint(saved: dict[str, Any]) -> str | None:
    """The training run's recipe fingerprint, so its test rows sit beside its validation rows."""
    from crabplus.transfer import recipe_fingerprint

    try:
        return recipe_fingerprint(saved)
    except (KeyError, TypeError, ValueError):
        return None  # TransferCallback falls back to a hash of the config


def _checkpoint_step(path: Path) -> int | None:
    """Optimizer steps the checkpoint was trained for (Lightning's ``global_step``); mmap: no full read."""
    import torch

    try:
        return int(torch.load(path, map_location="cpu", mmap=True, weights_only=False).get("global_step"))
    except (RuntimeError, TypeError, ValueError, OSError):
        return None


def evaluate_run(spec: RunSpec, config: EvalAllConfig) -> RunResult:
    """``crabplus test`` on the derived config; results read back from the store, trivial baselines beside."""
    import yaml

    from crabplus.evaluate.trivial import datamodule_trivial_scores
    from crabplus.train.lightning_cli import run_lightning
    from crabplus.transfer import ResultsStore, load_config, metric_intervals

    saved = load_config(spec.config)
    run_id = f"eval-{spec.name}-{int(time.time())}-{uuid.uuid4().hex[:6]}"
    derived = derive_config(saved, spec, config, run_id, _fingerprint(saved))
    path = Path(config.out) / "configs" / f"{spec.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(derived, sort_keys=False))
    try:
        with warnings.catch_warnings():  # eval-all's own argv is not meant for LightningCLI; it says so
            warnings.filterwarnings(
                "ignore", message=".*args parameter is intended to run from within Python"
            )
            cli = run_lightning(["test", "--config", str(path)])
    except SystemExit as err:  # jsonargparse exits on a config it cannot parse
        raise EvalAllError(
            f"run {spec.name!r}: `crabplus test --config {path}` failed (exit {err.code})"
        ) from err
    datamodule = cli.datamodule
    evaluated = list(getattr(datamodule, "val_task_names", []))
    store = ResultsStore(config.store)
    metrics = store.final_metrics(run_id, split="test")
    missing = [t for t in evaluated if t not in metrics]
    if missing or not metrics:
        raise EvalAllError(
            f"run {spec.name!r}: the results store {store.path} received no rows for task(s) "
            f"{missing or evaluated} (run id {run_id})"
        )
    trivial = datamodule_trivial_scores(datamodule, "test") if config.trivial else {}
    return RunResult(
        spec.name,
        run_id,
        _checkpoint_step(spec.ckpt_path),
        metrics,
        store.directions(run_id),
        trivial,
        metric_intervals(store, run_id, "test"),
    )


# ----- command ----------------------------------------------------------------------------------------------
def run_eval_all(config: EvalAllConfig) -> list[RunResult]:
    """Evaluate every run; write ``eval_all.md`` and ``eval_all.csv`` into ``config.out``."""
    specs = resolve_runs(config.runs, config.checkpoint)
    results = [evaluate_run(spec, config) for spec in specs]
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval_all.md").write_text(markdown_table(results, config.margin))
    write_csv(results, out / "eval_all.csv")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``crabplus eval-all --config configs/eval_all.yaml [key=value ...]``."""
    parser = argparse.ArgumentParser(prog="crabplus eval-all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="eval-all YAML (fields: crabplus.evaluate.eval_all.EvalAllConfig)")
    parser.add_argument(
        "overrides", nargs="*", help="overrides: --out runs/x --runs '[runs/a]' (or the dotlist out=runs/x)"
    )
    args = parser.parse_args(flags_to_dotlist(list(sys.argv[1:] if argv is None else argv), parser))
    try:
        config = load_eval_config(args.config, args.overrides)
        results = run_eval_all(config)
    except EvalAllError as err:
        print(f"crabplus eval-all: error: {err}", file=sys.stderr)
        return 2
    print(markdown_table(results, config.margin))
    print(
        f"wrote {Path(config.out) / 'eval_all.md'} and {Path(config.out) / 'eval_all.csv'}; "
        f"results rows in {config.store}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
