"""What a fit reports about what it skipped (issue 19, item 3): cumulative skip counts per task and kind in
metrics.csv equal the run's own state at the end; each skipped non-finite step prints one line; temp
files of interrupted checkpoint saves are removed at start."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import pytest
import torch

from crabplus.cli import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SYNTH = """
version: "test"
maxcount: 4
world: {num_classes: 4, duration_s: 4.0, fps: 4, frame_size: 32, sample_rate: 16000, max_objects: 2, seed: 0}
splits: {train: 8, val: 2, test: 0}
tasks: {synth_cls: {}, synth_loc: {}}
"""


def _rewrite(shard: Path, change) -> None:
    """Rewrite ``shard`` with ``change(name, bytes) -> bytes`` applied to every member."""
    with tarfile.open(shard) as tar:
        members = [(m.name, change(m.name, tar.extractfile(m).read())) for m in tar.getmembers()]
    with tarfile.open(shard, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """synth_cls with two undecodable training mp4s, synth_loc with one training span past its clip."""
    root = tmp_path_factory.mktemp("skips")
    (root / "synth.yaml").write_text(SYNTH)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["crabplus"])
        assert main(["data", "synth", "--out", str(root / "data"), "--config", str(root / "synth.yaml")]) == 0

    def cut_mp4(name: str, data: bytes) -> bytes:
        return data[:100] if name in ("synth_cls-train-000001.mp4", "synth_cls-train-000002.mp4") else data

    def late_span(name: str, data: bytes) -> bytes:
        if name != "synth_loc-train-000002.json":
            return data
        record = json.loads(data)
        record["target"]["segments"] = [[3.0, 12.5]]
        return json.dumps(record).encode()

    _rewrite(root / "data/synth_cls/train/shard-000000.tar", cut_mp4)
    _rewrite(root / "data/synth_loc/train/shard-000000.tar", late_span)
    return root / "data"


def test_metrics_csv_counts_equal_the_run_state_and_nonfinite_steps_print(
    data_root, tmp_path, capfd, monkeypatch
):
    monkeypatch.setattr("sys.argv", ["crabplus"])
    runs = tmp_path / "runs"
    checkpoints = runs / "skips" / "checkpoints"
    checkpoints.mkdir(parents=True)
    orphan = checkpoints / ".last.ckpt.k1ll3d.tmp"  # what a kill during a save leaves
    orphan.write_bytes(b"\0" * 64)
    args = [
        "fit", "--config", str(ROOT / "configs/tiny_modular.yaml"), f"--runs_dir={runs}", "--run_name=skips",
        f"--data.init_args.root={data_root}", "--data.init_args.tasks=[{name: synth_cls}, {name: synth_loc}]",
        "--data.init_args.num_workers=0", "--data.init_args.batch_size=4", "--data.init_args.max_skip_share=0.5",
        "--trainer.max_steps=8", "--trainer.log_every_n_steps=1", "--trainer.limit_val_batches=0",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--checkpoint_every_n_steps=4", "--model.init_args.max_skipped_steps=5",
        "--trainer.callbacks+=tests.helpers.nonfinite.NaNGradients", "--trainer.callbacks.from_step=6",
    ]  # fmt: skip
    assert main(args) == 0
    out = capfd.readouterr().out
    assert not orphan.exists() and f"removed {orphan.name}" in out
    notices = [line for line in out.splitlines() if "non-finite gradient, optimizer step skipped" in line]
    assert [line.split(":")[0] for line in notices] == ["step 6", "step 7"]  # one line per skipped step

    state = torch.load(checkpoints / "last.ckpt", weights_only=False)["MultiTaskDataModule"]
    rows = list(csv.DictReader(open(runs / "skips" / "fit" / "metrics.csv")))
    last = {}
    for row in rows:  # the latest logged value of each column
        last.update({k: v for k, v in row.items() if v not in ("", None)})
    assert state["skipped"]["synth_cls"] >= 1 and state["skipped"]["synth_loc"] >= 1  # both bad samples read
    for task in ("synth_cls", "synth_loc"):
        assert float(last[f"data/skipped/{task}"]) == state["skipped"][task]
    assert float(last["data/skipped/synth_cls/bad_media"]) == state["skipped_by_kind"]["synth_cls/bad_media"]
    assert (
        float(last["data/skipped/synth_loc/bad_target"]) == state["skipped_by_kind"]["synth_loc/bad_target"]
    )
    assert float(last["data/skipped/synth_loc/bad_target"]) == state["skipped"]["synth_loc"]
    assert float(last["train/skipped_steps"]) == 2.0
    stored = json.loads((runs / "skips" / "fit" / "skipped.json").read_text())  # kept with the run's results
    assert stored["step"] == 8
    assert stored["skipped"]["synth_cls"] == state["skipped"]["synth_cls"]
    assert stored["skipped"]["synth_loc/bad_target"] == state["skipped_by_kind"]["synth_loc/bad_target"]
