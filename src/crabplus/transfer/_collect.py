"""From the results store to transfer numbers: find a run's baselines and compare over seeds.

A multitask run's baseline for task t is every single-task run whose fingerprint is that of
``Recipe.single_task(t)`` of the multitask recipe (stored with the run); their final values are averaged over
seeds. Each multitask seed is compared with that mean, then :func:`summarize` gives mean ± std.
"""

from __future__ import annotations

from collections.abc import Sequence

from crabplus.transfer._compare import TransferSummary, compare, mean_values, summarize
from crabplus.transfer._recipe import Recipe
from crabplus.transfer._store import ResultsStore, RunInfo

__all__ = ["baselines_for", "group_runs", "recipe_of", "select_runs", "summarize_runs"]


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
        finals = [store.final_metrics(r.run_id, split).get(task, {}) for r in runs]
        finals = [f for f in finals if f]
        if finals:
            values[task] = mean_values([{task: f} for f in finals])[task]
            used[task] = [r.run_id for r, f in zip(runs, finals) if f]
    return values, used


def recipe_of(run: RunInfo, store: ResultsStore) -> Recipe:
    if run.recipe is None:
        raise ValueError(
            f"run {run.run_id!r} in {store.path} has no recipe recorded, so its baselines cannot be derived"
        )
    return Recipe.from_dict(run.recipe)


def summarize_runs(
    store: ResultsStore, runs: Sequence[RunInfo], split: str = "val", baseline_recipe: Recipe | None = None
) -> TransferSummary:
    """Transfer of the seeds ``runs`` of one recipe against their single-task baselines (mean ± std).

    ``baseline_recipe`` takes the baselines from another recipe's single-task runs (e.g. compare an I-LoRA
    multitask run with plain-LoRA single-task baselines, as Crab+ does); default: the runs' own recipe.
    """
    if not runs:
        raise ValueError("summarize_runs() needs at least one run")
    fingerprints = {r.fingerprint for r in runs}
    if len(fingerprints) > 1:
        raise ValueError(f"runs {[r.run_id for r in runs]} mix recipes {sorted(fingerprints)}; group them first")
    recipe = recipe_of(runs[0], store)
    base, _ = baselines_for(store, baseline_recipe or recipe, split, tasks=recipe.tasks)
    reports = []
    for run in runs:
        multi = store.final_metrics(run.run_id, split)
        if not multi:  # e.g. the training run when the test rows were written by a later evaluation
            continue
        reports.append(compare(multi, base, store.directions(run.run_id)))
    if not reports:
        raise ValueError(f"runs {[r.run_id for r in runs]} have no {split!r} results in {store.path}")
    return summarize(reports)


def select_runs(store: ResultsStore, selector: str) -> list[RunInfo]:
    """Runs named by ``selector``: a run id, else a fingerprint (or its prefix), else a variant label."""
    everything = store.runs()
    for match in (
        [r for r in everything if r.run_id == selector],
        [r for r in everything if r.fingerprint.startswith(selector)],
        [r for r in everything if r.variant == selector and r.kind == "multitask"],
    ):
        if match:
            return match
    known = sorted({r.run_id for r in everything} | {r.variant for r in everything})
    raise KeyError(f"no run, fingerprint or variant {selector!r} in {store.path}; known: {known}")


def group_runs(runs: Sequence[RunInfo]) -> dict[str, list[RunInfo]]:
    """Group seeds: label → runs sharing (variant, fingerprint). Labels are the variant, made unique."""
    groups: dict[tuple[str, str], list[RunInfo]] = {}
    for run in runs:
        groups.setdefault((run.variant, run.fingerprint), []).append(run)
    variants = [v for v, _ in groups]
    return {
        (v if variants.count(v) == 1 else f"{v} [{fp[:8]}]"): members for (v, fp), members in groups.items()
    }
