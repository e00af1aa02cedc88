"""AVLLMModule: overfitting a fixed batch, the non-finite guard, trainable-only checkpoints."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from tests.helpers.fixed_data import FixedDataModule

from crabplus.train import AVLLMModule, OptimizerConfig
from crabplus.train.guards import NonFiniteError

ADAPTER = {"heads": 3, "rank": 8, "alpha": 16, "dropout": 0.0}


class LossRecorder(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if outputs is not None:
            self.losses.append(float(outputs["loss"]))


def _trainer(tmp_path, max_steps: int, callbacks=()) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
        callbacks=list(callbacks),
    )


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["tiny-modular", "tiny-omni"])
def test_overfit_fixed_batch_loss_goes_down(tmp_path, preset):
    module = AVLLMModule(preset=preset, adapter=ADAPTER, optimizer=OptimizerConfig(lr=2e-2, warmup_ratio=0.0))
    data = FixedDataModule(module.model.media_spec, count=4, batch_size=4)
    recorder = LossRecorder()
    _trainer(tmp_path, 50, [recorder]).fit(module, data)
    assert len(recorder.losses) == 50
    first, last = sum(recorder.losses[:3]) / 3, sum(recorder.losses[-3:]) / 3
    assert last < 0.5 * first, f"loss did not fall enough: {first:.3f} -> {last:.3f}"


@pytest.mark.integration
def test_trainable_modes_select_the_right_parameters():
    adapters = AVLLMModule(preset="tiny-modular", adapter=ADAPTER, trainable="adapters")
    names = [n for n, p in adapters.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    with_connectors = AVLLMModule(preset="tiny-modular", adapter=ADAPTER, trainable="adapters+connectors")
    extra = {n for n, p in with_connectors.model.named_parameters() if p.requires_grad} - set(names)
    assert extra and all(n.startswith(("vision_connector.", "audio_connector.", "mask_head.")) for n in extra)
    with pytest.raises(ValueError, match="trainable mode"):
        AVLLMModule(preset="tiny-modular", trainable="everything")


@pytest.mark.integration
def test_checkpoint_holds_trainable_parts_and_reloads_into_a_rebuilt_model(tmp_path):
    module = AVLLMModule(
        preset="tiny-modular", adapter=ADAPTER, optimizer=OptimizerConfig(lr=1e-2, warmup_ratio=0.0)
    )
    data = FixedDataModule(module.model.media_spec)
    trainer = _trainer(tmp_path, 3)
    trainer.fit(module, data)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    state = torch.load(path, weights_only=False)["state_dict"]
    trainable = {f"model.{n}" for n, p in module.model.named_parameters() if p.requires_grad}
    assert set(state) == trainable
    rebuilt = AVLLMModule.load_from_checkpoint(path, weights_only=False)
    for (name, a), (_, b) in zip(module.model.state_dict().items(), rebuilt.model.state_dict().items()):
        assert torch.equal(a, b), name  # frozen parts rebuilt from base_seed, trainable parts loaded


class NaNAtSteps(L.Callback):
    """Makes the LM's last hidden states (hence its logits) NaN on the given global steps (an injected fault).
    Hooked on the decoder: the module's answer-positions-only loss calls it without the LM head wrapper."""

    def __init__(self, steps: set[int]) -> None:
        self.steps = steps
        self.handle = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        poison = trainer.global_step in self.steps

        def hook(module, args, output):
            if poison:
                output.last_hidden_state = output.last_hidden_state * float("nan")
            return output

        if self.handle is not None:
            self.handle.remove()
        self.handle = pl_module.model.language_model.get_decoder().register_forward_hook(hook)


@pytest.mark.integration
def test_injected_nan_loss_is_skipped_and_counted(tmp_path):
    module = AVLLMModule(preset="tiny-modular", adapter=ADAPTER, max_skipped_steps=5)
    data = FixedDataModule(module.model.media_spec)
    before = {n: p.detach().clone() for n, p in module.model.named_parameters() if p.requires_grad}
    # Step 2 is poisoned: its optimizer step becomes a no-op, the other three steps train.
    callback = NaNAtSteps({2})
    trainer = _trainer(tmp_path, 4, [callback])
    trainer.fit(module, data)
    assert module.guard.skipped >= 1
    assert trainer.global_step == 4
    changed = any(
        not torch.equal(before[n], p) for n, p in module.model.named_parameters() if p.requires_grad
    )
    assert changed  # the good steps still trained


@pytest.mark.integration
def test_repeated_nan_stops_the_run_with_a_clear_message(tmp_path):
    module = AVLLMModule(preset="tiny-modular", adapter=ADAPTER, max_skipped_steps=2)
    data = FixedDataModule(module.model.media_spec)
    callback = NaNAtSteps(set(range(100)))
    with pytest.raises(NonFiniteError, match="max_skipped_steps=2"):
        _trainer(tmp_path, 10, [callback]).fit(module, data)
    assert module.guard.skipped == 3
