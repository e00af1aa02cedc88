"""AVClassifierModule under Lightning: the callback applies and logs the coefficients."""

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from crabplus.balance import MLB
from crabplus.studies.balance import AVClassifierModule, AVTensorDataset, collate_av

pytestmark = pytest.mark.integration


def _loader(n=8):
    g = torch.Generator().manual_seed(0)
    tensors = {
        "video": torch.randint(0, 255, (n, 2, 3, 16, 16), generator=g, dtype=torch.uint8),
        "audio": torch.randn(n, 8, 16, generator=g),
        "label": torch.arange(n) % 4,
    }
    ds = AVTensorDataset(tensors, ["a", "b", "c", "d"])
    return DataLoader(ds, batch_size=4, collate_fn=lambda s: collate_av(s, ds.class_names))


@pytest.mark.parametrize("route", ["grad", "graph", "lr"])
def test_smoke_fit_logs_coefficients(route):
    module = AVClassifierModule(
        num_classes=4,
        dim=8,
        channels=4,
        balance=MLB(alpha=1.0, beta_max=3.0, route=route),
        optimizer="adam" if route == "lr" else "sgd",
    )
    trainer = pl.Trainer(
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, _loader(), _loader())
    logged = trainer.logged_metrics
    assert {"balance/coef/audio", "balance/coef/video", "val/av_cls/acc_fused"} <= set(logged)
    assert logged["balance/coef/audio"].item() == pytest.approx(module.balance.coefficients["audio"])
    assert module.balance.coefficients["audio"] != 1.0
