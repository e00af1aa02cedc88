"""`AVPretrainModule`: the thin LightningModule around `ContinualAVPretrainer` (issue G, part 1).

Trainable through `crabplus fit` (configs/continual/pretrain.yaml) on any loader that yields the batch
contract of docs/architecture.md: `video` (B, T, 3, S, S) in [0, 1] and `audio` log-mel (B, n_mels, F);
other keys are ignored. Batches without both media keys are rejected with an error naming the keys.

Validation logs zero-shot retrieval recall on the validation batch (`val/continual/a2v_r1`, ...).
The replay buffer and the selection generator are written to and read from checkpoints
(`on_save_checkpoint` / `on_load_checkpoint`), so a resumed stream continues with the same memory.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

import lightning as L
import torch

from crabplus.studies.continual.config import BackboneConfig, StellaConfig
from crabplus.studies.continual.pretrainer import ContinualAVPretrainer
from crabplus.studies.continual.retrieval import retrieval_recall

__all__ = ["AVPretrainModule"]

_C = TypeVar("_C")


def _as_config(cls: type[_C], value: _C | dict | None) -> _C:
    """A config dataclass from an instance, a dict of its fields, or None (defaults)."""
    if value is None:
        return cls()
    return cls(**value) if isinstance(value, dict) else value


class AVPretrainModule(L.LightningModule):
    """Continual audio-video contrastive + masked-reconstruction pre-training.

    Args:
        method: "stella" (default), "stella_noselect", "er" or "finetune".
        backbone: backbone sizes (tiny defaults); a dict of its fields is accepted (checkpoints).
        stella: STELLA hyper-parameters; a dict of its fields is accepted.
        lr: Adam learning rate (paper 1e-4; tiny models train faster at 1e-3).
        weight_decay: Adam weight decay (paper 5e-7).
        seed: seeds selection, masking and the buffer.
    """

    def __init__(
        self,
        method: str = "stella",
        backbone: BackboneConfig | dict | None = None,
        stella: StellaConfig | dict | None = None,
        lr: float = 1e-3,
        weight_decay: float = 5e-7,
        seed: int = 0,
    ) -> None:
        super().__init__()
        backbone = _as_config(BackboneConfig, backbone)
        stella = _as_config(StellaConfig, stella)
        # plain dicts in the checkpoint, so it loads with torch.load(weights_only=True)
        self.save_hyperparameters(
            {
                "method": method,
                "backbone": asdict(backbone),
                "stella": asdict(stella),
                "lr": lr,
                "weight_decay": weight_decay,
                "seed": seed,
            }
        )
        self.net = ContinualAVPretrainer(backbone, stella, method, seed)

    @staticmethod
    def _media(batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        missing = [k for k in ("video", "audio") if k not in batch]
        if missing:
            raise KeyError(f"AVPretrainModule needs batch keys 'video' and 'audio'; missing {missing}")
        return batch["video"], batch["audio"]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss, logs = self.net.training_loss(*self._media(batch))
        self.log_dict(
            {f"train/continual/{k}": v for k, v in logs.items()}, batch_size=batch["video"].shape[0]
        )
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.net.remember()  # after the optimizer step

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        emb_v, emb_a = self.net.embed(*self._media(batch))
        recalls = retrieval_recall(emb_a, emb_v)
        self.log_dict({f"val/continual/{k}": v for k, v in recalls.items()}, batch_size=emb_v.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        hp = self.hparams
        return torch.optim.Adam(
            self.parameters(), lr=hp.lr, betas=(0.95, 0.999), weight_decay=hp.weight_decay
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["continual"] = {
            "buffer": self.net.buffer.state_dict(),
            "generator": self.net.generator.get_state(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("continual")
        if state is not None:
            self.net.buffer.load_state_dict(state["buffer"])
            self.net.generator.set_state(state["generator"])
