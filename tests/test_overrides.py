"""One override dialect (issue 16, friction 7): ``--key.sub value`` works for the tool subcommands too."""

from __future__ import annotations

import argparse
import json

import pytest

from crabplus.data.cli import main as data_main
from crabplus.overrides import flags_to_dotlist


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crabplus tool")
    p.add_argument("--config")
    p.add_argument("--split", action="append")
    p.add_argument("overrides", nargs="*")
    return p


@pytest.mark.unit
def test_flags_become_dotlist_and_known_options_stay():
    argv = [
        "--config",
        "c.yaml",
        "--splits.train",
        "16",
        "--out=runs/x",
        "--split=val",
        "maxcount=3",
        "--runs",
        "[a, b]",
    ]
    assert flags_to_dotlist(argv, parser()) == [
        "--config", "c.yaml", "splits.train=16", "out=runs/x", "--split=val", "maxcount=3", "runs=[a, b]",
    ]  # fmt: skip


@pytest.mark.unit
def test_flag_without_value_fails_naming_it():
    with pytest.raises(SystemExit, match="--splits.train needs a value"):
        flags_to_dotlist(["--splits.train"], parser())


@pytest.mark.integration
def test_data_synth_takes_the_lightning_dialect(tmp_path):
    config = tmp_path / "synth.yaml"
    config.write_text(
        "maxcount: 8\nworld: {num_classes: 4, duration_s: 4.0, fps: 4, frame_size: 32}\ntasks: {synth_cls: {}}\n"
    )
    argv = ["synth", "--out", str(tmp_path / "d"), "--config", str(config), "--splits.train", "3", "--splits.val=1",
            "splits.test=2"]  # fmt: skip
    assert data_main(argv) == 0
    counts = {s: json.loads((tmp_path / "d" / "synth_cls" / s / "index.json").read_text())["num_samples"]
              for s in ("train", "val", "test")}  # fmt: skip
    assert counts == {"train": 3, "val": 1, "test": 2}
