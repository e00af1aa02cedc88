"""Pairwise transfer matrix from two-task runs (task affinity, cf. Fifty et al. 2021 / Standley et al. 2020).

    P[i][j] = Δ_i of the run trained on {i, j}, against task i's single-task baseline (mean over seeds)

Rows are the task being measured, columns its partner; the diagonal is 0 by definition (a task with itself
is its own baseline). Cells without a two-task run or without a baseline are NaN and listed as missing.
The two-task runs are the recipe's :meth:`Recipe.subset` of each pair, so they keep every task's sample budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

from crabplus.transfer._collect import baselines_for
from crabplus.transfer._compare import compare, mean_values
from crabplus.transfer._recipe import Recipe
from crabplus.transfer._store import ResultsStore

__all__ = ["PairMatrix", "pair_matrix"]


@dataclass(frozen=True)
class PairMatrix:
    """``matrix[i][j]``: relative change of ``tasks[i]`` when trained together with ``tasks[j]``."""

    tasks: list[str]
    matrix: list[list[float]]
    missing_runs: list[tuple[str, str]]
    missing_baselines: list[str]


def pair_matrix(store: ResultsStore, recipe: Recipe, split: str = "val") -> PairMatrix:
    """Build the matrix for every task pair of ``recipe`` from the runs in ``store``."""
    tasks = recipe.tasks
    index = {t: i for i, t in enumerate(tasks)}
    matrix = [[0.0 if i == j else math.nan for j in range(len(tasks))] for i in range(len(tasks))]
    base, _ = baselines_for(store, recipe, split)
    missing_runs = []
    for a, b in combinations(tasks, 2):
        runs = store.runs(kind="multitask", fingerprint=recipe.subset([a, b]).fingerprint)
        finals = [v for v in (store.final_metrics(r.run_id, split) for r in runs) if v]
        if not finals:
            missing_runs.append((a, b))
            continue
        directions: dict[str, bool] = {}
        for run in runs:
            directions.update(store.directions(run.run_id))
        changes = [compare(f, base, directions).task_change for f in finals]
        mean = mean_values([{"pair": c} for c in changes]).get("pair", {})
        for task, partner in ((a, b), (b, a)):
            if task in mean:
                matrix[index[task]][index[partner]] = mean[task]
    return PairMatrix(tasks, matrix, missing_runs, [t for t in tasks if t not in base])
