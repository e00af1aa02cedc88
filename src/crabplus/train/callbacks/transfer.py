"""``TransferCallback``: record per-task results and report transfer against single-task baselines, live.

At the end of every validation (and test) it reads ``val/<task>/<metric>`` from ``trainer.callback_metrics``,
appends them to the results store, and — for a multitask run — compares them with the single-task baselines
(:func:`crabplus.transfer.compare`: Δ_{t,k} = σ·(M^multi − M^single)/|M^single|, Δm = mean_t mean_k Δ_{t,k},
Maninis et al. 2019). It logs ``transfer/delta_m``, ``transfer/positive_share``, ``transfer/worst_drop``,
``transfer/missing_baselines`` and ``transfer/<task>/rel_change`` to the trainer's loggers, puts them in
``trainer.callback_metrics`` (so a ``ModelCheckpoint``, which Lightning runs last, can monitor
``transfer/delta_m``), and writes ``transfer.md``, ``transfer.csv`` and ``transfer.png`` into the run folder.
Test results use the ``test`` split, the ``transfer_test/`` prefix and ``transfer_test.*`` files.

Where the run's identity comes from (first found wins):
- fingerprint: the ``fingerprint`` argument (set by ``crabplus transfer baselines`` in derived configs) →
  ``pl_module.recipe_fingerprint`` → the fingerprint of the run's recipe.
- recipe (for the baselines' fingerprints): ``pl_module.recipe_config`` (a LightningCLI config dict) → the
  ``config.yaml`` of the run's newest fit when a checkpoint is validated or tested (the recipe that trained
  it) → the ``config.yaml`` LightningCLI saved in ``trainer.log_dir`` → a config rebuilt from ``pl_module.hparams``,
  the datamodule's hparams and ``trainer.max_steps`` (defaults may differ from the YAML; a warning says so).
- run id: ``run_id`` argument → ``pl_module.run_id`` → ``<fingerprint[:8]>-<time>-<random>``.
- run name (how reports name the run): ``run_name`` argument (the CLI passes its ``run_name``) → the name of
  ``trainer.default_root_dir``.
Every evaluated item (``pl_module.eval_items``: task, key, prediction, target) goes to the store's ``items``
table with its own scores, gathered from every rank: the paired bootstrap of ``crabplus transfer report``
resamples them.
- metric direction: the ``higher_is_better`` argument (metric or ``task/metric`` keys) →
  ``crabplus.tasks.get(task).higher_is_better``; metrics with no known direction are skipped with a warning.
Only global rank 0 writes. The callback never changes training.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn

from crabplus.train.run_layout import fit_config_path
from crabplus.transfer import (
    DEFAULT_STORE,
    Recipe,
    ResultRow,
    ResultsStore,
    RunInfo,
    TransferReport,
    baselines_for,
    compare,
    item_rows,
    summarize,
    write_report,
)
from crabplus.transfer import direction as lookup_direction

__all__ = ["TransferCallback", "parse_metric_keys"]


def parse_metric_keys(
    metrics: Mapping[str, Any], split: str, exclude: Sequence[str] = ()
) -> dict[str, dict[str, float]]:
    """``{"val/<task>/<metric>": value}`` → task → metric → float (other keys and ``exclude`` dropped)."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/", 2)  # the metric may hold a slash itself: accuracy/<question type>
        if len(parts) != 3 or parts[0] != split or parts[2] in exclude:
            continue
        out.setdefault(parts[1], {})[parts[2]] = float(
            value.item() if isinstance(value, torch.Tensor) else value
        )
    return out


@dataclass
class _RunContext:
    run_id: str
    fingerprint: str
    kind: str | None
    variant: str
    seed: int | None
    recipe: Recipe | None
    config: dict[str, Any]


class TransferCallback(L.Callback):
    """Record results and report transfer vs single-task baselines at every validation.

    Args:
        store: results store path (SQLite), shared by all runs.
        fingerprint: recipe fingerprint of this run (otherwise taken from the module or computed).
        kind: ``single_task`` or ``multitask`` (default: from the recipe's task count).
        variant: label stored with the run, e.g. ``lora`` / ``ilora`` (default: ``pl_module.hparams.variant``,
            else the adapter's ``variant`` field, else ``default``).
        run_id: unique id of this run (default: ``pl_module.run_id`` or a fresh one).
        higher_is_better: metric directions, keyed by metric or ``task/metric``; the task registry otherwise.
        baselines: task → metric → single-task value, instead of looking them up in the store.
        baseline_overrides: recipe fields replaced before deriving the baselines' fingerprints, e.g.
            ``{"adapter": {...plain LoRA...}}`` to compare an I-LoRA run with plain-LoRA single-task runs.
        exclude_metrics: metrics never recorded nor compared (``loss`` by default: the task metrics decide).
        out_dir: where ``transfer.*`` go (default: ``trainer.log_dir``).
        write_files: write the markdown/CSV/PNG report (off: log and store only).
        run_name: the run's name in reports (default: the folder name of ``trainer.default_root_dir``).
    """

    def __init__(
        self,
        store: str = DEFAULT_STORE,
        fingerprint: str | None = None,
        kind: str | None = None,
        variant: str | None = None,
        run_id: str | None = None,
        higher_is_better: dict[str, bool] | None = None,
        baselines: dict[str, dict[str, float]] | None = None,
        baseline_overrides: dict[str, Any] | None = None,
        exclude_metrics: Sequence[str] = ("loss",),
        out_dir: str | None = None,
        write_files: bool = True,
        run_name: str | None = None,
    ) -> None:
        self.run_name = run_name
        self.store = ResultsStore(store)
        self.fingerprint, self.kind, self.variant, self.run_id = fingerprint, kind, variant, run_id
        self.higher_is_better = dict(higher_is_better or {})
        self.baselines = baselines
        self.baseline_overrides = dict(baseline_overrides or {})
        self.exclude_metrics = tuple(exclude_metrics)
        self.out_dir = out_dir
        self.write_files = write_files
        self.last_report: TransferReport | None = None
        self._context: _RunContext | None = None
        self._warned: set[str] = set()

    # ----- Lightning hooks ----------------------------------------------------------------------------
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer, pl_module, "val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, pl_module, "test")

    # ----- one evaluation -----------------------------------------------------------------------------
    def _record(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> None:
        values = parse_metric_keys(trainer.callback_metrics, split, self.exclude_metrics)
        ctx = self._resolve(trainer, pl_module, values)
        if ctx.recipe is not None:
            values = {t: m for t, m in values.items() if t in ctx.recipe.samples}
        directions = self._directions(values)
        values = {t: {k: v for k, v in m.items() if f"{t}/{k}" in directions} for t, m in values.items()}
        values = {t: m for t, m in values.items() if m}
        items = _gathered(list(getattr(pl_module, "eval_items", []) or []))
        if not values or not trainer.is_global_zero:
            return
        # in `crabplus test --ckpt_path` the trainer starts at step 0; the module knows the checkpoint's step
        step = max(trainer.global_step, int(getattr(pl_module, "checkpoint_step", 0) or 0))
        if (
            split == "val"
            and getattr(getattr(trainer, "state", None), "fn", None) == "fit"
            and getattr(pl_module, "checkpoint_step", None) is not None
        ):
            values = self._not_yet_stored(trainer, ctx, values, step)
        self._write_rows(ctx, values, directions, step, split)
        self._write_items(ctx, [i for i in items if i[0] in values], step, split)
        if (ctx.kind or ("multitask" if len(values) > 1 else "single_task")) != "multitask":
            return
        baselines = self.baselines
        if baselines is None and ctx.recipe is not None:
            recipe = ctx.recipe.replace(**self.baseline_overrides)
            baselines = baselines_for(self.store, recipe, split, tasks=list(values))[0]
        report = compare(values, baselines or {}, directions)
        self.last_report = report
        self._log(trainer, report, "transfer" if split == "val" else "transfer_test")
        if self.write_files:
            out = Path(self.out_dir or trainer.log_dir or trainer.default_root_dir)
            stem = "transfer" if split == "val" else "transfer_test"
            write_report(
                summarize([report]),
                out,
                stem=stem,
                title=f"Transfer at step {trainer.global_step} ({ctx.variant})",
            )

    def _not_yet_stored(
        self, trainer: L.Trainer, ctx: _RunContext, values: Mapping[str, Mapping[str, float]], step: int
    ) -> dict[str, dict[str, float]]:
        """A resumed fit re-runs a validation whose rows an earlier process of the same run may have stored
        before it was killed (rows are written before the step's checkpoint): keep each row once."""
        name = self.run_name or Path(trainer.default_root_dir).name or None
        earlier = [
            r for r in self.store.runs(name=name, fingerprint=ctx.fingerprint) if r.run_id != ctx.run_id
        ]
        stored = {
            (row.task, row.metric)
            for run in earlier
            for row in self.store.rows(run_id=run.run_id, split="val")
            if row.step == step
        }
        return {t: {k: v for k, v in m.items() if (t, k) not in stored} for t, m in values.items()}

    def _directions(self, values: Mapping[str, Mapping[str, float]]) -> dict[str, bool]:
        out = {}
        for task, metrics in values.items():
            for metric in metrics:
                higher = self._direction(task, metric)
                if higher is not None:
                    out[f"{task}/{metric}"] = higher
        return out

    def _direction(self, task: str, metric: str) -> bool | None:
        try:
            return lookup_direction(self.higher_is_better, task, metric)
        except KeyError:
            pass
        try:
            from crabplus import tasks

            return bool(tasks.get(task).is_higher_better(metric))  # also accuracy/<type> keys
        except (ImportError, AttributeError, KeyError, TypeError):
            self._warn_once(
                f"{task}/{metric}",
                f"TransferCallback: no direction known for '{task}/{metric}'; "
                "pass higher_is_better or register the task. It is left out of the report.",
            )
            return None

    def _write_rows(
        self,
        ctx: _RunContext,
        values: Mapping[str, Mapping[str, float]],
        directions: Mapping[str, bool],
        step: int,
        split: str,
    ) -> None:
        now = time.time()
        self.store.add_results(
            ResultRow(
                ctx.run_id,
                ctx.fingerprint,
                task,
                metric,
                value,
                directions[f"{task}/{metric}"],
                step,
                now,
                split,
            )
            for task, metrics in values.items()
            for metric, value in metrics.items()
        )

    def _write_items(
        self, ctx: _RunContext, items: list[tuple[str, str, Any, Any]], step: int, split: str
    ) -> None:
        from crabplus import tasks

        by_task: dict[str, list[tuple[str, Any, Any]]] = {}
        for task, key, prediction, target in items:
            by_task.setdefault(task, []).append((key, prediction, target))
        for task, rows in by_task.items():
            keys, predictions, targets = zip(*rows)
            make_metric = tasks.get(task).make_metric
            self.store.add_items(
                ctx.run_id, split, step, item_rows(task, keys, predictions, targets, make_metric)
            )

    def _log(self, trainer: L.Trainer, report: TransferReport, prefix: str) -> None:
        scalars = {f"{prefix}/missing_baselines": float(len(report.missing))}
        if report.task_change:
            scalars.update(
                {
                    f"{prefix}/delta_m": report.delta_m,
                    f"{prefix}/positive_share": report.positive_share,
                    f"{prefix}/worst_drop": report.worst_drop,
                }
            )
            scalars.update({f"{prefix}/{t}/rel_change": v for t, v in report.task_change.items()})
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=trainer.global_step)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in scalars.items()})

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            rank_zero_warn(message)

    # ----- who is this run ----------------------------------------------------------------------------
    def _resolve(
        self, trainer: L.Trainer, pl_module: L.LightningModule, values: Mapping[str, Any]
    ) -> _RunContext:
        if self._context is not None:
            return self._context
        config = self._find_config(trainer, pl_module)
        recipe = _try_recipe(config)
        fp = self.fingerprint or getattr(pl_module, "recipe_fingerprint", None)
        fp = fp or (recipe.fingerprint if recipe is not None else _hash_config(config))
        kind = self.kind or (recipe.kind if recipe is not None else None)
        variant = self.variant or _variant(config)
        run_id = self.run_id or getattr(pl_module, "run_id", None)
        run_id = run_id or f"{fp[:8]}-{int(time.time())}-{uuid.uuid4().hex[:6]}"
        name = self.run_name or Path(trainer.default_root_dir).name or None
        seed = _seed(config)
        self._context = _RunContext(run_id, fp, kind, variant, seed, recipe, config)
        if trainer.is_global_zero:
            tasks = tuple(recipe.tasks) if recipe is not None else tuple(values)
            self.store.register_run(
                RunInfo(
                    run_id,
                    fp,
                    kind or ("multitask" if len(tasks) > 1 else "single_task"),
                    tasks,
                    variant,
                    seed,
                    config,
                    None if recipe is None else recipe.to_dict(),
                    name=name,
                )
            )
        return self._context

    def _find_config(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        given = getattr(pl_module, "recipe_config", None)
        if isinstance(given, Mapping):
            return _plain(given)
        saved = (
            _training_config(trainer, pl_module)
            or Path(trainer.log_dir or trainer.default_root_dir) / "config.yaml"
        )
        if saved.is_file():
            from crabplus.transfer import load_config

            return load_config(saved)
        self._warn_once(
            "config",
            "TransferCallback: no recipe_config on the module and no saved config.yaml; "
            "rebuilding the recipe from hparams (baseline fingerprints may not match the YAML's).",
        )
        datamodule = getattr(trainer, "datamodule", None)
        return _plain(
            {
                "model": dict(getattr(pl_module, "hparams", {}) or {}),
                "data": dict(getattr(datamodule, "hparams", {}) or {}),
                "trainer": {
                    "max_steps": trainer.max_steps,
                    "accumulate_grad_batches": trainer.accumulate_grad_batches,
                },
                "seed_everything": os.environ.get("PL_GLOBAL_SEED"),
            }
        )


def _training_config(trainer: L.Trainer, pl_module: L.LightningModule) -> Path | None:
    """A checkpoint validated or tested: the config of the run's newest fit, which trained it. The evaluation's
    own config may name other tasks, splits or steps; its results belong to the recipe that was trained."""
    stage = getattr(getattr(trainer, "state", None), "fn", None)
    if stage not in ("validate", "test") or getattr(pl_module, "checkpoint_step", None) is None:
        return None
    return fit_config_path(trainer.default_root_dir)


def _gathered(items: list[Any]) -> list[Any]:
    """Every rank's evaluated items, on every rank (one process: the list itself)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return items
    parts: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, items)
    return [item for part in parts for item in part or []]


def _plain(obj: Any) -> Any:
    """JSON round trip: containers become dicts/lists, anything else its string (for hashing and storage)."""
    return json.loads(json.dumps(obj, default=lambda o: getattr(o, "__dict__", str(o))))


def _try_recipe(config: Mapping[str, Any]) -> Recipe | None:
    try:
        return Recipe.from_config(config)
    except (KeyError, TypeError, ValueError):
        return None


def _hash_config(config: Mapping[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _variant(config: Mapping[str, Any]) -> str:
    from crabplus.transfer import init_args

    model = init_args(config.get("model"))
    adapter = model.get("adapter")
    label = model.get("variant") or (adapter.get("variant") if isinstance(adapter, Mapping) else None)
    return str(label or ("none" if adapter is None and "adapter" in model else "default"))


def _seed(config: Mapping[str, Any]) -> int | None:
    seed = config.get("seed_everything")
    if seed is None or isinstance(seed, bool) or seed == "":  # `seed_everything: true` means "pick one"
        seed = os.environ.get("PL_GLOBAL_SEED")
    try:
        return int(seed) if seed is not None else None
    except (TypeError, ValueError):
        return None
