"""From the results store to transfer numbers: find a run's baselines and compare over seeds.

A multitask run's baseline for task t is every single-task run whose fingerprint is that of
``Recipe.single_task(t)`` of the multitask recipe (stored with the run); their final values are averaged over
seeds. Each multitask seed is compared with that mean, then :func:`summarize` gives mean ± std.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from crabplus.transfer._bootstrap import (
    DEFAULT_REPLICATES,
    ItemSide,
    TransferIntervals,
    bootstrap_task,
    combine_tasks,
    metric_interval_table,
)
from crabplus.transfer._compare import TransferSummary, compare, mean_values, summarize
from crabplus.transfer._items import from_json
from crabplus.transfer._recipe import Recipe
from crabplus.transfer._store import ResultsStore, RunInfo

__all__ = [
    "baselines_for",
    "group_runs",
    "interval_summary",
    "metric_intervals",
    "recipe_of",
    "select_runs",
    "split_with_results",
    "summarize_runs",
]


def baselines_for(
    store: ResultsStore, recipe: Recipe, split: str = "val", tasks: Sequence[str] | None = None
) -> tuple[dict[str, dict[str, float]], dict[str, list[str]]]:
    """Seed-mean final values of each task's single-task baseline, and the run ids used per task.

    Tasks outside ``recipe`` (possible when the baselines come from another recipe) have no baseline.
    """
    values: dict[str, dict[str, float]] = {}
    used: dict[str, list[str]] = {}
    for task in [t for t in (tasks or recipe.tasks) if t in recipe.samples]:
        runs = store.runs(kind="single_task", fingerprint=recipe.single_task(task).fingerprint)
        # (run, final values) of the runs holding this split: e.g. a baseline's test process, not its fit
        found = [(r, store.final_metrics(r.run_id, split).get(task, {})) for r in runs]
        found = [(r, f) for r, f in found if f]
        if found:
            values[task] = mean_values([{task: f} for _, f in found])[task]
            used[task] = [r.run_id for r, _ in found]
    return values, used


def recipe_of(run: RunInfo, store: ResultsStore) -> Recipe:
    if run.recipe is None:
        raise ValueError(
            f"run {run.run_id!r} in {store.path} has no recipe recorded, so its baselines cannot be derived"
        )
    return Recipe.from_dict(run.recipe)


def summarize_runs(
    store: ResultsStore,
    runs: Sequence[RunInfo],
    split: str = "val",
    baseline_recipe: Recipe | None = None,
    replicates: int = DEFAULT_REPLICATES,
    cache: dict[Any, Any] | None = None,
) -> TransferSummary:
    """Transfer of the seeds ``runs`` of one recipe against their single-task baselines (mean ± std), with
    paired bootstrap intervals where both sides stored their items (``replicates`` 0: none).

    ``baseline_recipe`` takes the baselines from another recipe's single-task runs (e.g. compare an I-LoRA
    multitask run with plain-LoRA single-task baselines, as Crab+ does); default: the runs' own recipe.
    ``cache`` (a dict kept across calls) shares the baselines' bootstrap replicates between variants.
    """
    if not runs:
        raise ValueError("summarize_runs() needs at least one run")
    fingerprints = {r.fingerprint for r in runs}
    if len(fingerprints) > 1:
        raise ValueError(
            f"runs {[r.run_id for r in runs]} mix recipes {sorted(fingerprints)}; group them first"
        )
    recipe = recipe_of(runs[0], store)
    base, used = baselines_for(store, baseline_recipe or recipe, split, tasks=recipe.tasks)
    reports, evaluated = [], []
    for run in runs:
        multi = store.final_metrics(run.run_id, split)
        if not multi:  # e.g. the training run when the test rows were written by a later evaluation
            continue
        reports.append(compare(multi, base, store.directions(run.run_id)))
        evaluated.append(run)
    if not reports:
        names = sorted({r.label for r in runs})
        raise ValueError(f"run(s) {', '.join(names)} have no {split!r} results in {store.path}")
    summary = dataclasses.replace(summarize(reports), split=split)
    if replicates > 0:
        summary = dataclasses.replace(
            summary, intervals=interval_summary(store, evaluated, summary, used, split, replicates, cache)
        )
    return summary


def _sides(store: ResultsStore, run_ids: Sequence[str], task: str, split: str) -> list[ItemSide]:
    sides = []
    for run_id in run_ids:
        rows = store.items(run_id, split, task)
        if rows:
            sides.append(
                ItemSide(
                    tuple(r.item for r in rows),
                    tuple(from_json(r.prediction) for r in rows),
                    tuple(from_json(r.target) for r in rows),
                    run_id,
                )
            )
    return sides


def metric_intervals(
    store: ResultsStore, run_id: str, split: str = "test", replicates: int = DEFAULT_REPLICATES
) -> dict[str, dict[str, tuple[float, float]]]:
    """task → metric → 95 % bootstrap interval (low, high) of the run's own metric values, from its items."""
    from crabplus import tasks as registry

    out: dict[str, dict[str, tuple[float, float]]] = {}
    for task in sorted({row.task for row in store.items(run_id, split)}):
        try:
            make_metric = registry.get(task).make_metric
        except KeyError:
            continue
        (side,) = _sides(store, [run_id], task, split)
        table = metric_interval_table(make_metric, side, task, replicates)
        out[task] = {m: (i.low, i.high) for m, i in table.items()}
    return out


def interval_summary(
    store: ResultsStore,
    runs: Sequence[RunInfo],
    summary: TransferSummary,
    baseline_runs: dict[str, list[str]],
    split: str,
    replicates: int = DEFAULT_REPLICATES,
    cache: dict[Any, Any] | None = None,
) -> TransferIntervals:
    """Bootstrap intervals of every compared task whose multitask and baseline runs stored their items."""
    from crabplus import tasks as registry

    results, unpaired = {}, {}
    for task, metrics in summary.relative_change.items():
        multi = _sides(store, [r.run_id for r in runs], task, split)
        single = _sides(store, baseline_runs.get(task, []), task, split)
        if not multi or not single:
            side = "multitask run" if not multi else "single-task baseline"
            unpaired[task] = f"the {side} stored no {split} items"
            continue
        try:
            make_metric = registry.get(task).make_metric
        except KeyError:
            unpaired[task] = "task not registered (its metric cannot be recomputed)"
            continue
        higher = {m: bool(summary.reports[0].higher_is_better.get(task, {}).get(m, True)) for m in metrics}
        found = bootstrap_task(task, multi, single, make_metric, sorted(metrics), higher, replicates, cache)
        if found is None:
            unpaired[task] = "no item scored by both sides"
        else:
            results[task] = found
    return combine_tasks(results, replicates, unpaired)


def select_runs(store: ResultsStore, selector: str) -> list[RunInfo]:
    """Runs named by ``selector``: a run name (``run_name``: its fit, test and eval-all processes), else a run
    id, else a fingerprint (or its prefix), else a variant label (multitask runs)."""
    everything = store.runs()
    for match in (
        [r for r in everything if r.name == selector],
        [r for r in everything if r.run_id == selector],
        [r for r in everything if r.fingerprint.startswith(selector)],
        [r for r in everything if r.variant == selector and r.kind == "multitask"],
    ):
        if match:
            return match
    names = sorted({r.name for r in everything if r.name and r.kind == "multitask"})
    variants = sorted({r.variant for r in everything if r.kind == "multitask"})
    raise KeyError(
        f"no run name, run id, fingerprint or variant {selector!r} in {store.path}; multitask run names: "
        f"{', '.join(names) or 'none'}; variants: {', '.join(variants) or 'none'}"
    )


def split_with_results(
    store: ResultsStore, runs: Sequence[RunInfo], baseline_recipe: Recipe | None = None
) -> str | None:
    """The split both sides have: ``test`` when the runs and some of their baselines hold test results, else
    ``val`` on the same terms, else None."""
    for split in ("test", "val"):
        if not any(store.final_metrics(r.run_id, split) for r in runs):
            continue
        recipe = baseline_recipe or recipe_of(runs[0], store)
        if baselines_for(store, recipe, split, tasks=recipe_of(runs[0], store).tasks)[0]:
            return split
    return None


def group_runs(runs: Sequence[RunInfo]) -> dict[str, list[RunInfo]]:
    """Group seeds: label → runs sharing (variant, fingerprint). The label is the group's run name when its
    runs share one (a run's fit and eval processes do), else the variant; made unique by the fingerprint."""
    groups: dict[tuple[str, str], list[RunInfo]] = {}
    for run in runs:
        groups.setdefault((run.variant, run.fingerprint), []).append(run)

    def label(variant: str, members: list[RunInfo]) -> str:
        names = {r.name for r in members if r.name}
        return names.pop() if len(names) == 1 else variant

    labels = [label(v, m) for (v, _), m in groups.items()]
    return {
        (lab if labels.count(lab) == 1 else f"{lab} [{fp[:8]}]"): members
        for lab, ((_, fp), members) in zip(labels, groups.items())
    }
