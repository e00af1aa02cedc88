"""Lightning glue: apply a module's `BalanceStrategy` before each optimizer step and log the coefficients.

Contract with the LightningModule: it has an attribute ``balance`` (a `BalanceStrategy`) whose
``losses``/``combine`` it calls in ``training_step``, and a ``modality_parameters()`` method (or a
``model`` attribute with one, e.g. the AV-LLM) returning ``{"audio": [...], "video": [...]}``.

Why ``on_before_optimizer_step`` and not ``on_after_backward``: Lightning calls it once per optimizer
step, after all accumulated micro-batches, after AMP unscaling and DDP's gradient all-reduce, and before
clipping (the order of the original MLB trainer). Scaling ``.grad`` after every backward
would rescale the earlier micro-batches' gradients again under accumulation.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import nn

__all__ = ["ModalityBalanceCallback", "find_modality_parameters"]


def find_modality_parameters(pl_module: Any) -> dict[str, list[nn.Parameter]]:
    """``pl_module.modality_parameters()``, else ``pl_module.model.modality_parameters()``."""
    for owner in (pl_module, getattr(pl_module, "model", None)):
        fn = getattr(owner, "modality_parameters", None)
        if callable(fn):
            return fn()
    raise AttributeError(
        f"{type(pl_module).__name__} has no modality_parameters() (nor .model.modality_parameters()); "
        "the balancing callback needs it to know which parameters belong to which modality"
    )


class ModalityBalanceCallback(pl.Callback):
    """Applies ``pl_module.balance`` to the gradients (or learning rates) and logs ``balance/*`` values.

    Args:
        log_every_n_steps: log the coefficients, scores and ratios every n optimizer steps.
    """

    def __init__(self, log_every_n_steps: int = 1) -> None:
        self.log_every_n_steps = max(1, int(log_every_n_steps))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        strategy = getattr(pl_module, "balance", None)
        if strategy is None:
            raise AttributeError(f"{type(pl_module).__name__}.balance is missing (a BalanceStrategy)")
        step = trainer.global_step
        strategy.on_before_optimizer_step(find_modality_parameters(pl_module), optimizer, step)
        if step % self.log_every_n_steps == 0:
            for key, value in strategy.log_dict().items():
                pl_module.log(key, float(value), on_step=True, on_epoch=False, sync_dist=False)
