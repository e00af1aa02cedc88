"""``AVClassifierModule``: the thin LightningModule for balancing studies on audio-visual classification.

It shares one forward between steps, hands the branches to its ``balance`` strategy (a loss wrapper),
and lets `ModalityBalanceCallback` (returned by ``configure_callbacks``, so configs need not list it)
apply the coefficients before each optimizer step.

Log keys: ``train/loss``, ``train/loss/<branch>``, ``balance/coef/<m>`` (and score, ratio), and
``val/av_cls/acc_<branch>`` with branch in {fused, audio, video} (the unimodal heads' accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch import Tensor

from crabplus.balance import (
    BalanceStrategy,
    ForwardOutputs,
    FusedOnly,
    ModalityBalanceCallback,
    branch_from_logits,
)
from crabplus.studies.balance._data import batch_labels
from crabplus.studies.balance._model import AVClassifier

__all__ = ["AVClassifierModule"]


class AVClassifierModule(pl.LightningModule):
    """Train an `AVClassifier` under a balancing strategy.

    Args:
        num_classes: number of classes C.
        fusion: ``concat`` | ``sum`` | ``late`` | ``film``.
        dim: encoder feature width.
        channels: first conv block width.
        balance: the strategy (``FusedOnly``, ``MultiLoss``, ``OGMGE``, ``MLB``); default fused-only.
        optimizer: ``sgd`` (momentum) or ``adam``. MLB's effect under Adam is small (Adam ignores constant
            gradient scales): use ``sgd``, or ``adam`` with ``balance.route: lr``.
        lr: learning rate.
        momentum: SGD momentum.
        weight_decay: weight decay.
        class_names: names for ``target[i]["label"]`` strings of real-data batches; None = use ``label``.
    """

    def __init__(
        self,
        num_classes: int = 8,
        fusion: str = "concat",
        dim: int = 32,
        channels: int = 16,
        balance: BalanceStrategy | None = None,
        optimizer: Literal["sgd", "adam"] = "sgd",
        lr: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["balance"])
        self.model = AVClassifier(num_classes, dim=dim, channels=channels, fusion=fusion)
        self.balance = balance or FusedOnly()
        self.class_names = list(class_names) if class_names else None

    def modality_parameters(self) -> dict[str, list[torch.nn.Parameter]]:
        return self.model.modality_parameters()

    def forward_outputs(self, batch: dict[str, Any]) -> ForwardOutputs:
        """The branches of one forward (the ``forward_fn`` a strategy consumes)."""
        labels = batch_labels(batch, self.class_names)  # (B,)
        handles = self.balance.handles if self.balance.route == "graph" else None
        out = self.model(batch["audio"], batch["video"], handles)
        slices = (
            None if out.slices is None else {m: branch_from_logits(z, labels) for m, z in out.slices.items()}
        )
        return ForwardOutputs(
            fused=branch_from_logits(out.fused, labels),
            unimodal={m: branch_from_logits(z, labels) for m, z in out.unimodal.items()},
            slices=slices,
        )

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        parts = self.balance.losses(self.forward_outputs, batch, self.global_step)
        bs = len(batch["audio"])
        self.log("train/loss", parts["loss"], prog_bar=True, batch_size=bs)
        self.log_dict({f"train/loss/{k}": v for k, v in parts.items() if k != "loss"}, batch_size=bs)
        return parts["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        labels = batch_labels(batch, self.class_names)
        out = self.model(batch["audio"], batch["video"])
        logits = {"fused": out.fused, **out.unimodal}
        accs = {f"val/av_cls/acc_{k}": (z.argmax(-1) == labels).float().mean() for k, z in logits.items()}
        self.log_dict(accs, batch_size=len(labels), prog_bar=False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """One param group per modality (tagged ``modality``, for ``route: lr``) and one shared group."""
        groups, owned = [], set()
        for m, params in self.model.modality_parameters().items():
            groups.append({"params": params, "modality": m})
            owned |= {id(p) for p in params}
        shared = [p for p in self.model.parameters() if id(p) not in owned]
        if shared:
            groups.append({"params": shared})
        hp = self.hparams
        if hp.optimizer == "adam":
            return torch.optim.Adam(groups, lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
        raise ValueError(f"model.optimizer must be 'sgd' or 'adam', got {hp.optimizer!r}")

    def configure_callbacks(self) -> list[pl.Callback]:
        return [ModalityBalanceCallback()]
