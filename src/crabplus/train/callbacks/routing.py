"""``RoutingStatsCallback``: I-LoRA routing statistics of every validation, logged and written to disk.

During validation a :class:`crabplus.lora.RoutingStats` collector is attached to the module's I-LoRA
layers (on-device sums, no per-token storage, no host sync per step). At the end of validation the sums
are all-reduced over ranks, then rank 0:

- logs ``val/routing/<layer group>/entropy`` and ``val/routing/<layer group>/head<i>`` (token-weighted
  mean gate over the group's layers), and ``val/<task>/routing_entropy``;
- writes ``routing_stats_step<step>.json`` / ``.csv`` and ``routing_heatmap_step<step>.png`` (task × head
  per layer group) under ``<run dir>/routing/`` (``notebooks/routing_analysis.ipynb`` reads them).

It only reports: it never changes training. Sanity-check validation is skipped.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import lightning as L
import torch

from crabplus.lora import RoutingStats, is_injected, write_routing_stats

__all__ = ["RoutingStatsCallback"]


class RoutingStatsCallback(L.Callback):
    """Collect routing statistics in validation.

    Args:
        out_dir: where files go; default ``<trainer.log_dir or default_root_dir>/routing``.
        task_names: labels of task ids; default ``pl_module.task_names`` (``AVLLMModule`` sets it).
        plot: write the heatmap PNG.
        every_n_validations: collect on every n-th validation only (the others cost nothing).
    """

    def __init__(
        self,
        out_dir: str | Path | None = None,
        task_names: list[str] | None = None,
        plot: bool = True,
        every_n_validations: int = 1,
    ) -> None:
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.task_names = task_names
        self.plot = plot
        self.every = max(1, every_n_validations)
        self._count = 0
        self._stats: RoutingStats | None = None
        self.last_files: dict[str, Path] = {}

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not is_injected(pl_module):
            return
        self._count += 1
        if (self._count - 1) % self.every:
            return
        names = self.task_names if self.task_names is not None else list(getattr(pl_module, "task_names", []))
        self._stats = RoutingStats(task_names=names).attach(pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        stats, self._stats = self._stats, None
        if stats is None:
            return
        stats.detach()
        if trainer.world_size > 1:
            stats.reduce(lambda t: trainer.strategy.reduce(t, reduce_op="sum"))
        rows = stats.records()
        for key, value in _summaries(rows).items():
            pl_module.log(key, value, rank_zero_only=True)
        directory = self._directory(trainer)  # every rank: Trainer.log_dir is a broadcast under DDP
        if trainer.is_global_zero and rows:
            self.last_files = write_routing_stats(
                rows, directory, trainer.global_step,
                stats.task_names + ["unknown"], stats.modality_names + ["unknown"], plot=self.plot,
            )  # fmt: skip

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._stats is not None:  # validation interrupted: never leave collectors attached
            self._stats.detach()
            self._stats = None

    def _directory(self, trainer: L.Trainer) -> Path:
        if self.out_dir is not None:
            return self.out_dir
        return Path(trainer.log_dir or trainer.default_root_dir) / "routing"


def _summaries(rows: list[dict]) -> dict[str, torch.Tensor]:
    """Token-weighted means: per group the entropy and each head's gate; per task the entropy."""
    sums: dict[str, float] = defaultdict(float)
    weights: dict[str, float] = defaultdict(float)
    for r in rows:
        n = float(r["tokens"])
        group = f"val/routing/{r['group']}"
        sums[f"{group}/head{r['head']}"] += n * r["mean_gate"]
        weights[f"{group}/head{r['head']}"] += n
        if r["head"] == 0:  # entropy is repeated on every head row: count it once
            for key in (f"{group}/entropy", f"val/{r['task']}/routing_entropy"):
                sums[key] += n * r["entropy"]
                weights[key] += n
    return {k: torch.tensor(sums[k] / weights[k]) for k in sorted(sums) if weights[k] > 0}
