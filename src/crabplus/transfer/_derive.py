"""Derive single-task (and pairwise) LightningCLI configs from a multitask one. Pure functions, no I/O.

The derived config is the multitask YAML with ``data.tasks`` reduced to the subset and ``trainer.max_steps``
rescaled so each task keeps its sample budget (formula in :mod:`crabplus.transfer._recipe`). Step counts
that say *when* (``trainer.val_check_interval`` in steps, ``checkpoint_every_n_steps``) are rescaled by the
same factor, so a baseline validates at the same fraction of its training as its multitask recipe (a 6-step
baseline keeping a 24-step interval would never validate). It also gets a
``TransferCallback`` whose fingerprint, kind and store are fixed in the YAML, so the run is recorded under the
fingerprint predicted here, whatever defaults the training process fills in.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from crabplus.transfer._recipe import Recipe, init_args, subset_steps, task_entries

__all__ = [
    "CALLBACK_CLASS_PATH",
    "DerivedRun",
    "derive_pairs",
    "derive_single_tasks",
    "derive_subset_config",
    "scaled_steps",
]

CALLBACK_CLASS_PATH = "crabplus.train.callbacks.transfer.TransferCallback"


class DerivedRun(dict):
    """``{"tasks", "fingerprint", "seed", "config"}`` for one derived run (a dict so it prints as YAML)."""


def _set_init_arg(config: dict[str, Any], section: str, key: str, value: Any) -> None:
    node = config.setdefault(section, {})
    target = node.setdefault("init_args", {}) if "init_args" in node else node
    target[key] = value


def _with_transfer_callback(trainer: dict[str, Any], init: dict[str, Any]) -> None:
    callbacks = [
        cb
        for cb in trainer.get("callbacks") or []
        if not (isinstance(cb, Mapping) and str(cb.get("class_path", "")).endswith("TransferCallback"))
    ]
    callbacks.append({"class_path": CALLBACK_CLASS_PATH, "init_args": init})
    trainer["callbacks"] = callbacks


def derive_subset_config(
    config: Mapping[str, Any],
    tasks: Sequence[str],
    *,
    seed: int | None = None,
    store: str | None = None,
    run_dir: str | None = None,
    variant: str | None = None,
    run_name: str | None = None,
) -> DerivedRun:
    """The multitask ``config`` restricted to ``tasks`` with each task's sample budget kept.

    Args:
        config: LightningCLI config dict (``model``, ``data``, ``trainer``; ``data.tasks: [{name, weight}]``).
        tasks: the subset; one task gives the single-task baseline.
        seed: ``seed_everything`` of the derived run (default: the multitask one).
        store: results store path the derived run writes to (TransferCallback ``store``).
        run_dir: ``trainer.default_root_dir`` of the derived run.
        variant: label stored with the run (default: the TransferCallback's guess from the adapter).
        run_name: the run's name in the store and reports (also the config's ``run_name``).
    """
    recipe = Recipe.from_config(config)
    sub = recipe.subset(tasks)
    out: dict[str, Any] = copy.deepcopy(dict(config))
    by_name = {e["name"]: e for e in task_entries(init_args(config.get("data")))}
    entries = [
        dict(by_name[t], weight=recipe.weights[t] / sum(recipe.weights[u] for u in tasks)) for t in tasks
    ]
    _set_init_arg(out, "data", "tasks", entries)
    trainer = out.setdefault("trainer", {})
    steps = subset_steps([recipe.samples[t] for t in tasks], recipe.per_step)
    scale = steps / int(trainer["max_steps"])
    trainer["max_steps"] = steps
    interval = trainer.get("val_check_interval")
    if isinstance(interval, int) and not isinstance(interval, bool):  # a float is a fraction of an epoch
        trainer["val_check_interval"] = scaled_steps(interval, scale)
    if isinstance(out.get("checkpoint_every_n_steps"), int):
        out["checkpoint_every_n_steps"] = scaled_steps(out["checkpoint_every_n_steps"], scale)
    if run_dir is not None:
        trainer["default_root_dir"] = run_dir
    if seed is not None:
        out["seed_everything"] = seed
    init: dict[str, Any] = {"fingerprint": sub.fingerprint, "kind": sub.kind}
    if store is not None:
        init["store"] = store
    if variant is not None:
        init["variant"] = variant
    if run_name is not None:
        init["run_name"] = run_name
        out["run_name"] = run_name
    _with_transfer_callback(trainer, init)
    return DerivedRun(
        tasks=list(tasks), fingerprint=sub.fingerprint, seed=out.get("seed_everything"), config=out
    )


def scaled_steps(steps: int, scale: float) -> int:
    """A step count of the multitask run at the same fraction of a run ``scale`` times as long (≥ 1)."""
    return max(1, round(steps * scale))


def derive_single_tasks(config: Mapping[str, Any], **kwargs: Any) -> list[DerivedRun]:
    """One derived config per task of the multitask ``config`` (keyword arguments as in the subset form)."""
    return [derive_subset_config(config, [t], **kwargs) for t in Recipe.from_config(config).tasks]


def derive_pairs(config: Mapping[str, Any], **kwargs: Any) -> list[DerivedRun]:
    """One derived two-task config per unordered task pair (for the pairwise transfer matrix)."""
    tasks = Recipe.from_config(config).tasks
    return [derive_subset_config(config, list(pair), **kwargs) for pair in combinations(tasks, 2)]
