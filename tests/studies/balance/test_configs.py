"""Every shipped configs/balance/*.yaml parses with the real CLI parser and runs one step."""

from pathlib import Path

import pytest
from lightning.pytorch.cli import LightningCLI

from crabplus.balance import MLB, OGMGE, FusedOnly, MultiLoss
from crabplus.studies.balance import AVClassifierModule, SynthAVDataModule

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "configs" / "balance").glob("*.yaml"))
EXPECTED = {"none": FusedOnly, "multiloss": MultiLoss, "ogm_ge": OGMGE, "mlb": MLB}


@pytest.mark.unit
def test_config_set_is_complete():
    assert {p.stem for p in CONFIGS} == set(EXPECTED), "configs/balance/ changed: update EXPECTED"


def _cli(path: Path, tmp_path: Path, *extra: str) -> LightningCLI:
    args = [
        "--config",
        str(path),
        f"--data.init_args.cache_dir={tmp_path}",
        "--data.init_args.num_train=8",
        "--data.init_args.num_val=4",
        "--data.init_args.batch_size=4",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        *extra,
    ]
    return LightningCLI(run=False, args=args, save_config_callback=None)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_parses_and_runs_one_step(path, tmp_path):
    cli = _cli(path, tmp_path, "--trainer.fast_dev_run=1")
    assert isinstance(cli.model, AVClassifierModule) and isinstance(cli.datamodule, SynthAVDataModule)
    assert type(cli.model.balance) is EXPECTED[path.stem]
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.global_step == 1
