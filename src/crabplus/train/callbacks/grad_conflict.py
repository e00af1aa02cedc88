"""``GradConflictCallback``: cosine similarity of per-task gradients on the adapter weights (interference).

Every ``every_n_steps`` optimizer steps, for each task t with a held batch b_t, it computes
g_t = ∂L_t(b_t)/∂θ over the trainable parameters θ (the adapters when only adapters train) and logs

    C[i][j] = ⟨g_i, g_j⟩ / (‖g_i‖ ‖g_j‖)                 task-pair conflict matrix, C[i][j] < 0 = conflict

(the "gradient conflict" of PCGrad, Yu et al., NeurIPS 2020). Logged keys: ``grad_conflict/<a>__<b>`` per pair,
``grad_conflict/mean_cos`` and ``grad_conflict/conflict_share`` (share of pairs with C < 0). The matrices
are kept in ``history`` and the last one is drawn to ``grad_conflict.png`` at the end of fit.

Held batches: the first training batch seen per task (``on_train_batch_start``), restricted to that task's
samples, detached and kept on the device. Losses come from ``pl_module.task_loss(batch) -> Tensor``.
Gradients use ``torch.autograd.grad`` so ``.grad`` (and gradient accumulation) is never touched, and the
module is put in eval mode (no dropout) for the measurement. Cost: one forward+backward per task every N steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch

from crabplus.data.batch import Batch

__all__ = ["GradConflictCallback", "cosine_matrix", "cosine_matrix_reference", "select_samples"]


def select_samples(batch: Batch, index: Sequence[int]) -> Batch:
    """Samples ``index`` of a batch: lists and tensors with a batch dimension are sliced, the rest kept."""
    size = len(batch["task"])
    out: Batch = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == size:
            out[key] = value.detach()[list(index)].clone()
        elif isinstance(value, (list, tuple)) and len(value) == size:
            out[key] = [value[i] for i in index]
        else:
            out[key] = value
    return out


def cosine_matrix(grads: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(T, P) flattened per-task gradients → (T, T) cosine similarities (fast path: one matmul)."""
    unit = grads / grads.norm(dim=1, keepdim=True).clamp_min(eps)  # (T, P)
    return unit @ unit.T  # (T, T)


def cosine_matrix_reference(grads: Sequence[torch.Tensor]) -> list[list[float]]:
    """The literal formula, pair by pair, for tests: ⟨g_i, g_j⟩ / (‖g_i‖ ‖g_j‖)."""

    def dot(a: torch.Tensor, b: torch.Tensor) -> float:
        return sum(float(x) * float(y) for x, y in zip(a.tolist(), b.tolist()))

    return [[dot(a, b) / math.sqrt(dot(a, a) * dot(b, b)) for b in grads] for a in grads]


class GradConflictCallback(L.Callback):
    """Log the task-pair gradient cosine matrix every ``every_n_steps`` optimizer steps.

    Args:
        every_n_steps: measurement period in optimizer steps (the first measurement once ≥ 2 tasks are held).
        param_filter: substring a parameter name must contain to count (e.g. ``lora``); default: all
            trainable parameters.
        max_samples_per_task: cap on the held batch size per task (memory/time bound).
        plot: draw the last matrix to ``<log_dir>/grad_conflict.png`` at the end of fit.
    """

    def __init__(
        self,
        every_n_steps: int = 50,
        param_filter: str | None = None,
        max_samples_per_task: int = 4,
        plot: bool = True,
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.param_filter = param_filter
        self.max_samples_per_task = max_samples_per_task
        self.plot = plot
        self.held: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[int, list[str], torch.Tensor]] = []
        self._last_step = -1

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Batch, batch_idx: int
    ) -> None:
        if not isinstance(batch, Mapping) or "task" not in batch:
            return
        for task in dict.fromkeys(batch["task"]):
            if task not in self.held:
                index = [i for i, t in enumerate(batch["task"]) if t == task][: self.max_samples_per_task]
                self.held[task] = select_samples(batch, index)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Batch, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step == 0 or step == self._last_step or step % self.every_n_steps != 0 or len(self.held) < 2:
            return
        self._last_step = step
        with trainer.precision_plugin.forward_context():  # same autocast as the training forward
            tasks, matrix = self.measure(pl_module)
        self.history.append((step, tasks, matrix))
        scalars = _scalars(tasks, matrix)
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.plot:
            return
        # every rank, whatever its history: Trainer.log_dir is a broadcast under DDP
        out = Path(trainer.log_dir or trainer.default_root_dir)
        if self.history and trainer.is_global_zero:
            from crabplus.transfer import plot_matrix

            step, tasks, matrix = self.history[-1]
            out.mkdir(parents=True, exist_ok=True)
            plot_matrix(
                tasks,
                matrix.tolist(),
                out / "grad_conflict.png",
                f"Gradient cosine between tasks (step {step})",
                "cosine",
                limit=1.0,
            )

    def _parameters(self, pl_module: torch.nn.Module) -> list[torch.nn.Parameter]:
        params = [
            p
            for n, p in pl_module.named_parameters()
            if p.requires_grad and (self.param_filter is None or self.param_filter in n)
        ]
        if not params:
            raise ValueError(
                f"GradConflictCallback: no trainable parameters match param_filter={self.param_filter!r}"
            )
        return params

    @torch.no_grad()
    def measure(self, pl_module: L.LightningModule) -> tuple[list[str], torch.Tensor]:
        """(tasks, (T, T) cosine matrix) on the held batches, leaving ``.grad`` and the mode untouched."""
        params = self._parameters(pl_module)
        tasks = sorted(self.held)
        was_training = pl_module.training
        pl_module.eval()
        try:
            grads = torch.stack([self._flat_grad(pl_module.task_loss, self.held[t], params) for t in tasks])
        finally:
            pl_module.train(was_training)
        return tasks, cosine_matrix(grads).cpu()  # (T, T)

    @staticmethod
    def _flat_grad(
        loss_fn: Callable[[Any], torch.Tensor], batch: Any, params: list[torch.nn.Parameter]
    ) -> torch.Tensor:
        with torch.enable_grad():
            loss = loss_fn(batch)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        return torch.cat(
            [(g if g is not None else torch.zeros_like(p)).reshape(-1).float() for g, p in zip(grads, params)]
        )  # (P,)


def _scalars(tasks: list[str], matrix: torch.Tensor) -> dict[str, float]:
    pairs = {
        f"grad_conflict/{a}__{b}": float(matrix[i, j])
        for i, a in enumerate(tasks)
        for j, b in enumerate(tasks)
        if i < j
    }
    values = list(pairs.values())
    return {
        **pairs,
        "grad_conflict/mean_cos": sum(values) / len(values),
        "grad_conflict/conflict_share": sum(v < 0 for v in values) / len(values),
    }
