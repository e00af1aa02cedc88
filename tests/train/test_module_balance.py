"""Modality balancing on the AV-LLM: modality-dropped passes and per-modality coefficients."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from tests.helpers.fixed_data import FixedDataModule, collate, make_samples

from crabplus.balance import MLB, ModalityBalanceCallback
from crabplus.train import AVLLMModule
from crabplus.train.module import drop_modalities


@pytest.mark.unit
def test_drop_modalities_removes_media_and_placeholders():
    spec = {"num_frames": 2, "frame_size": 8, "n_mels": 4, "mel_frames": 10}
    batch = collate(make_samples(2, spec))
    audio_only = drop_modalities(batch, ("audio",))
    assert audio_only["video"] is None and audio_only["audio"] is batch["audio"]
    assert all("<video>" not in p and "<audio>" in p for p in audio_only["prompt"])
    video_only = drop_modalities(batch, ("video",))
    assert video_only["audio"] is None and all("<audio>" not in p and "<video>" in p for p in video_only["prompt"])
    assert batch["video"] is not None and "<video>" in batch["prompt"][0]  # the input batch is untouched


class CoefficientRecorder(L.Callback):
    def __init__(self) -> None:
        self.coefficients: list[dict[str, float]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.coefficients.append(dict(pl_module.balance.coefficients))


@pytest.mark.integration
def test_mlb_on_the_avllm_scales_modality_gradients(tmp_path):
    module = AVLLMModule(preset="tiny-modular", adapter={"heads": 2, "rank": 4, "dropout": 0.0}, balance=MLB())
    data = FixedDataModule(module.model.media_spec, count=4, batch_size=4)
    recorder = CoefficientRecorder()
    trainer = L.Trainer(
        accelerator="cpu", max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        limit_val_batches=0, default_root_dir=tmp_path, callbacks=[ModalityBalanceCallback(), recorder],
    )
    trainer.fit(module, data)
    assert len(recorder.coefficients) == 3  # one update per optimizer step
    assert set(module.balance.coefficients) == {"audio", "video"}
    assert set(module.balance.scores) == {"audio", "video"}
    assert all(0.0 < s <= 1.0 for s in module.balance.scores.values())  # exp(-CE) is a probability
    assert any(abs(k - 1.0) > 1e-6 for k in module.balance.coefficients.values())
    metrics = trainer.callback_metrics
    assert "balance/coef/audio" in metrics and "balance/coef/video" in metrics
    assert torch.isfinite(metrics["train/loss"])
