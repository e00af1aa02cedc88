"""AVPretrainModule: trains through Lightning, checkpoints its buffer, config parses; memory saving."""

from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from crabplus.studies.continual import AVPretrainModule, BackboneConfig, ContinualAVPretrainer, StellaConfig
from crabplus.studies.continual.memory import saved_activation_bytes, step_activation_bytes
from crabplus.studies.continual.scenario import ClipDataset

CONFIGS = sorted(Path(__file__).resolve().parents[3].joinpath("configs", "continual").glob("*.yaml"))
TINY = BackboneConfig(dim=32, heads=2, decoder_dim=32)


def _media(n: int = 8, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    # contract sizes differ from the backbone's: 6 frames of 40 px, 100 log-mel frames
    return {"video": torch.rand(n, 6, 3, 40, 40, generator=g), "audio": torch.randn(n, 32, 100, generator=g)}


def _trainer(steps: int, **kw) -> L.Trainer:
    return L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kw,
    )


@pytest.mark.unit
def test_saved_activation_bytes_counts_saved_outputs():
    x = torch.ones(10, requires_grad=True)
    assert saved_activation_bytes(lambda: torch.exp(x).sum()) == 40  # exp saves its float32 output


@pytest.mark.unit
def test_missing_media_key_is_named():
    with pytest.raises(KeyError, match="audio"):
        AVPretrainModule(backbone=TINY)._media({"video": torch.zeros(1)})


@pytest.mark.integration
@pytest.mark.parametrize("method", ["finetune", "er", "stella_noselect", "stella"])
def test_smoke_fit_and_buffer_checkpoint(method, tmp_path):
    module = AVPretrainModule(method, TINY, StellaConfig(memory_size=6), seed=0)
    loader = DataLoader(ClipDataset(_media()), batch_size=4, shuffle=False)
    trainer = _trainer(3, default_root_dir=tmp_path, enable_checkpointing=False)
    trainer.fit(module, loader)
    replay = method != "finetune"
    assert len(module.net.buffer) == (6 if replay else 0) and module.net.buffer.num_seen == (
        12 if replay else 0
    )
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    fresh = AVPretrainModule.load_from_checkpoint(path)
    assert fresh.net.buffer.num_seen == module.net.buffer.num_seen
    for name, value in module.net.buffer.fields.items():
        assert torch.equal(fresh.net.buffer.fields[name], value)


@pytest.mark.integration
def test_selection_cuts_activation_memory_by_30_percent():
    media = _media(8)
    nbytes = {}
    for method in ("stella_noselect", "stella"):
        torch.manual_seed(0)
        nbytes[method] = step_activation_bytes(
            ContinualAVPretrainer(BackboneConfig(), StellaConfig(memory_size=16), method),
            media["video"],
            media["audio"],
        )
    assert nbytes["stella"] <= 0.7 * nbytes["stella_noselect"]


@pytest.mark.unit
def test_configs_collected():
    assert len(CONFIGS) == 1


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_parses_and_runs_one_step(config, tmp_path):
    from lightning.pytorch.cli import LightningCLI

    cli = LightningCLI(
        run=False,
        save_config_callback=None,
        args=[
            "--config",
            str(config),
            "--trainer.max_steps=1",
            "--trainer.logger=false",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_checkpointing=false",
        ],
    )
    assert isinstance(cli.model, AVPretrainModule)
    cli.trainer.fit(cli.model, DataLoader(ClipDataset(_media(4)), batch_size=4))
    assert cli.trainer.global_step == 1
