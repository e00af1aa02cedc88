"""A tiny results store with hand-picked numbers, shared by the transfer, CLI and notebook tests.

Recipe: tasks a, b, c (equal weights), batch 2, 30 steps → 20 samples per task; single-task runs: 10 steps.
Directions: ``acc`` higher is better, ``err`` lower is better.

Single-task LoRA baselines (val, final step):  a/acc 0.50, b/acc 0.40, b/err 0.20, c/acc 0.80 (seed 0)
                                                c/acc 0.60 (seed 1)  → c/acc baseline mean 0.70
Multitask LoRA seed 0: a/acc 0.55 (+10 %), b/acc 0.44 (+10 %), b/err 0.25 (−25 %) → Δ_b = −7.5 %,
                       c/acc 0.77 (+10 %)                       → Δm = (10 − 7.5 + 10)/3 = 4.1667 %, share 2/3
Multitask LoRA seed 1: a/acc 0.45 (−10 %), b/acc 0.48 (+20 %), b/err 0.18 (+10 %) → Δ_b = +15 %,
                       c/acc 0.84 (+20 %)                       → Δm = 25/3 % = 8.3333 %, share 2/3
Multitask I-LoRA seed 0 on a, b, c, d (40 steps → 20 samples per task; compared with the LoRA baselines):
                       a/acc 0.60 (+20 %), b/acc 0.40 (0), b/err 0.16 (+20 %) → Δ_b = +10 %, c/acc 0.56 (−20 %),
                       d/acc 0.90 without baseline → Δm = 10/3 = 3.3333 %, share 2/3, worst c, d missing.
Two-task LoRA run a+b (seed 0): a/acc 0.45 (−10 %), b/acc 0.48 (+20 %), b/err 0.20 (0) → Δ_b = +10 %.
An earlier step (step 5) of every run holds junk values that the final-step rule must ignore.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from crabplus.transfer import Recipe, ResultRow, ResultsStore, RunInfo

HIGHER = {"acc": True, "err": False}

CONFIG: dict[str, Any] = {
    "seed_everything": 0,
    "model": {"preset": "tiny-modular", "adapter": {"variant": "lora", "rank": 4}, "optimizer": {"lr": 1e-3}},
    "data": {
        "root": "data/synthetic",
        "batch_size": 2,
        "tasks": [{"name": "a", "weight": 1.0}, {"name": "b", "weight": 1.0}, {"name": "c", "weight": 1.0}],
    },
    "trainer": {"max_steps": 30},
}


def ilora_config() -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    config["model"]["adapter"] = {"variant": "ilora", "rank": 4, "heads": 3}
    config["data"]["tasks"].append({"name": "d", "weight": 1.0})
    config["trainer"]["max_steps"] = 40
    return config


def _add(
    store: ResultsStore,
    run_id: str,
    recipe: Recipe,
    variant: str,
    seed: int,
    values: dict[str, dict[str, float]],
    config: dict[str, Any],
) -> None:
    store.register_run(
        RunInfo(
            run_id,
            recipe.fingerprint,
            recipe.kind,
            tuple(recipe.tasks),
            variant,
            seed,
            config,
            recipe.to_dict(),
            created=1000.0 + len(store.runs()),
        )
    )
    rows = []
    for step, scale in ((5, 0.1), (10, 1.0)):
        for task, metrics in values.items():
            for metric, value in metrics.items():
                rows.append(
                    ResultRow(
                        run_id,
                        recipe.fingerprint,
                        task,
                        metric,
                        value * scale,
                        HIGHER[metric],
                        step,
                        2000.0 + step,
                    )
                )
    store.add_results(rows)


def build_tiny_store(path: str | Path) -> ResultsStore:
    """Write the store described in the module docstring to ``path`` and return it."""
    store = ResultsStore(path)
    lora = Recipe.from_config(CONFIG)
    ilora = Recipe.from_config(ilora_config())
    _add(store, "st-a-0", lora.single_task("a"), "lora", 0, {"a": {"acc": 0.50}}, {})
    _add(store, "st-b-0", lora.single_task("b"), "lora", 0, {"b": {"acc": 0.40, "err": 0.20}}, {})
    _add(store, "st-c-0", lora.single_task("c"), "lora", 0, {"c": {"acc": 0.80}}, {})
    _add(store, "st-c-1", lora.single_task("c"), "lora", 1, {"c": {"acc": 0.60}}, {})
    _add(
        store,
        "mt-lora-0",
        lora,
        "lora",
        0,
        {"a": {"acc": 0.55}, "b": {"acc": 0.44, "err": 0.25}, "c": {"acc": 0.77}},
        CONFIG,
    )
    _add(
        store,
        "mt-lora-1",
        lora,
        "lora",
        1,
        {"a": {"acc": 0.45}, "b": {"acc": 0.48, "err": 0.18}, "c": {"acc": 0.84}},
        CONFIG,
    )
    _add(
        store,
        "mt-ilora-0",
        ilora,
        "ilora",
        0,
        {"a": {"acc": 0.60}, "b": {"acc": 0.40, "err": 0.16}, "c": {"acc": 0.56}, "d": {"acc": 0.90}},
        ilora_config(),
    )
    _add(
        store,
        "pair-ab-0",
        lora.subset(["a", "b"]),
        "lora",
        0,
        {"a": {"acc": 0.45}, "b": {"acc": 0.48, "err": 0.20}},
        {},
    )
    return store
