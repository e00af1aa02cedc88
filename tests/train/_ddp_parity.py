"""Worker of tests/train/test_ddp.py's loss-curve parity test: a few steps of the tiny preset on fixed data.

``python _ddp_parity.py OUT_DIR DEVICES``. With DEVICES=2 the test starts this script twice with
LOCAL_RANK/RANK/WORLD_SIZE set, so Lightning treats the processes as launched externally (no re-launch);
rank r trains on the r-th contiguous half of every global batch, so the two halves together are exactly
the 1-process batch. With DEVICES=1 the test calls :func:`train` directly.

The samples come from ``tests.helpers.fixed_data`` with two labels whose answers have the same token
count (and one prompt), so nothing is padded and the mean of the ranks' per-sample-mean losses is the
1-process loss.

Each rank writes ``OUT_DIR/rank<r>.pt`` = {"losses": per-step training losses, "weights": trainable
parameters after the last step}.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.helpers.fixed_data import collate, make_samples  # noqa: E402

from crabplus.train import AVLLMModule, OptimizerConfig  # noqa: E402

warnings.filterwarnings("ignore")

ADAPTER = {"heads": 3, "rank": 4, "alpha": 8, "dropout": 0.0}  # no dropout: ranks draw different masks
GLOBAL_BATCH = 4
SAMPLES = 8  # two global batches per epoch
STEPS = 4
LABELS = ("cat", "car")  # same token count in the tiny tokenizer (the test checks it)


def samples(spec: dict) -> list[dict]:
    """``SAMPLES`` fixed audio-visual samples alternating between ``LABELS``."""
    out = make_samples(SAMPLES, spec, seed=0)
    for i, sample in enumerate(out):
        label = LABELS[i % len(LABELS)]
        sample["answer"], sample["target"] = f"<answer>{label}</answer>", {"label": label}
    return out


class RankSliceData(L.LightningDataModule):
    """Rank r of w gets samples ``[b*G + r*G/w, b*G + (r+1)*G/w)`` of global batch b (no sampler)."""

    task_names = ["synth_cls"]

    def __init__(self, spec: dict, world_size: int) -> None:
        super().__init__()
        self.samples, self.world_size = samples(spec), world_size

    def train_dataloader(self) -> DataLoader:
        local, rank = GLOBAL_BATCH // self.world_size, self.trainer.global_rank
        mine = [s for i, s in enumerate(self.samples) if (i % GLOBAL_BATCH) // local == rank]
        return DataLoader(mine, batch_size=local, shuffle=False, collate_fn=collate)


class LossLog(L.Callback):
    """Per-step training loss of this rank (the mean over its local batch)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def train(out_dir: str, devices: int) -> None:
    """Train ``STEPS`` steps on ``devices`` CPU processes with global batch ``GLOBAL_BATCH``."""
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    module = AVLLMModule(
        preset="tiny-modular", adapter=ADAPTER, optimizer=OptimizerConfig(lr=5e-3, warmup_ratio=0.0)
    )
    data = RankSliceData(module.model.media_spec, devices)
    log = LossLog()
    trainer = L.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", max_steps=STEPS,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, num_sanity_val_steps=0, use_distributed_sampler=False, callbacks=[log],
        default_root_dir=out_dir,
    )  # fmt: skip
    trainer.fit(module, data)
    weights = {n: p.detach().clone() for n, p in module.model.named_parameters() if p.requires_grad}
    torch.save({"losses": log.losses, "weights": weights}, Path(out_dir) / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    train(sys.argv[1], int(sys.argv[2]))
    if torch.distributed.is_initialized():  # explicit teardown: gloo can abort a rank at interpreter exit
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print("parity worker done")
