"""``crabplus data inspect`` on the synthetic world: the summary's numbers equal an independent pass over
the shards (json targets, mask pngs decoded with PIL), and the contact sheets are real, non-blank PNGs.
The converted-fixture case is in ``tests/data/converters/test_inspect_converted.py``."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.train._launch import write_synth

from crabplus.data.cli import main as data_main
from crabplus.data.shards import iter_shard, shard_paths

pytestmark = pytest.mark.integration


def _records(root: Path, task: str, split: str) -> list[dict]:
    return [raw for path in shard_paths(root, task, split) for raw in iter_shard(path)]


def _sheet_ok(path: Path) -> None:
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    assert img.format == "PNG" and min(img.size) > 100
    assert pixels.std() > 5  # something was drawn, not a blank canvas


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    return write_synth(tmp_path_factory.mktemp("synth"), ["synth_seg", "synth_loc", "synth_ground"], train=4)


def test_inspect_synthetic_world(synth_root, tmp_path, capsys) -> None:
    out = tmp_path / "report"
    assert data_main(["inspect", str(synth_root), "--out", str(out)]) == 0
    assert "synth_seg/train: 4 samples" in capsys.readouterr().out
    summaries = {(s["task"], s["split"]): s for s in json.loads((out / "summary.json").read_text())}
    assert set(summaries) == {("synth_seg", "train"), ("synth_loc", "train"), ("synth_ground", "train")}
    for (task, split), s in summaries.items():
        raws = _records(synth_root, task, split)
        targets = [json.loads(r["json"])["target"] for r in raws]
        assert s["samples"] == s["index_samples"] == len(raws) == 4
        assert s["skipped_total"] == 0 and s["skipped"] == {}
        assert s["labels"] == dict(Counter(t["label"] for t in targets))
        visual, audio = ("mp4", "mp4") if "mp4" in raws[0] else ("png", "wav")
        assert s["media"][visual]["resolutions"] == {"64x64": 4}  # the world's frame_size
        assert s["media"][audio]["duration_s"]["mean"] == pytest.approx(4.0, abs=0.1)  # its duration_s
        _sheet_ok(out / s["sheet"])
    # spans: every segment length, by hand
    loc = [json.loads(r["json"])["target"] for r in _records(synth_root, "synth_loc", "train")]
    lengths = [e - s for t in loc for s, e in t["segments"]]
    spans = summaries[("synth_loc", "train")]["spans_s"]
    assert spans["count"] == len(lengths) and spans["mean"] == pytest.approx(np.mean(lengths))
    # boxes: mean area
    boxes = [json.loads(r["json"])["target"]["box"] for r in _records(synth_root, "synth_ground", "train")]
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    assert summaries[("synth_ground", "train")]["box_area"]["mean"] == pytest.approx(np.mean(areas))
    # masks: foreground share decoded independently with PIL
    shares = [
        float((np.asarray(Image.open(io.BytesIO(r["mask.png"]))) > 0).mean())
        for r in _records(synth_root, "synth_seg", "train")
    ]
    masks = summaries[("synth_seg", "train")]["mask_foreground_share"]
    assert masks["mean"] == pytest.approx(np.mean(shares)) and masks["empty"] == sum(v == 0 for v in shares)
    assert "## synth_seg / train" in (out / "summary.md").read_text()


def test_inspect_only_one_task_and_unknown_task(synth_root, tmp_path, capsys) -> None:
    assert data_main(["inspect", str(synth_root), "--task", "synth_loc", "--out", str(tmp_path)]) == 0
    assert [s["task"] for s in json.loads((tmp_path / "summary.json").read_text())] == ["synth_loc"]
    assert data_main(["inspect", str(synth_root), "--task", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "no <task>/<split>/index.json for task 'nope'" in capsys.readouterr().err
