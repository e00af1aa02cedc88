"""Trivial baselines against hand-worked numbers (crabplus.evaluate.trivial).

Hand-made targets and the numbers they must give:

- synth_cls, labels dog, dog, cat → majority "dog": accuracy 2/3; weighted F1: F1_dog = 2·2/(2·2+1+0) = 0.8,
  F1_cat = 0 → (2·0.8 + 1·0)/3 = 1.6/3.
- synth_loc, 4-s clips, whole-clip "dog" (majority of dog, dog, cat): gold 1-s segments
  [dog dog bg bg], [bg dog dog dog], [cat cat cat cat] → 2 + 3 + 0 correct of 12 = 5/12.
- synth_ground, centre box [.25, .25, .75, .75]: IoU with itself 1, with [0, 0, .5, .5] = .0625/.4375 = 1/7,
  with [.5, .25, 1, .75] = .125/.375 = 1/3 → mean 31/63; cIoU (IoU ≥ .5) 1/3; label accuracy 2/3 (a, a, b).
- synth_seg, empty mask: J = 1 on an empty 4×4 ground truth (both all background), 0 on one with 4
  foreground pixels → 0.5. F per frame (no video key: each frame is a video): the empty-GT frame scores 0
  (AVSBench's rule); the other: at t = 0 every pixel is predicted, P = 4/16, R = 1,
  F = 1.3·0.25/(0.3·0.25 + 1) = 0.325/1.075; above t = 0 nothing is predicted → mean (0.325/1.075 + 0)/2.
"""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch

from crabplus import tasks
from crabplus.data import MultiTaskDataModule
from crabplus.data.sample import MediaSpec
from crabplus.data.shards import ShardWriter
from crabplus.evaluate.trivial import datamodule_trivial_scores, read_targets, score_trivial, trivial_scores

CLS = [{"label": "dog"}, {"label": "dog"}, {"label": "cat"}]
LOC = [
    {"label": "dog", "segments": [[0, 2]], "duration": 4.0},
    {"label": "dog", "segments": [[1, 4]], "duration": 4.0},
    {"label": "cat", "segments": [[0, 4]], "duration": 4.0},
]
GROUND = [
    {"label": "a", "box": [0.25, 0.25, 0.75, 0.75]},
    {"label": "a", "box": [0.0, 0.0, 0.5, 0.5]},
    {"label": "b", "box": [0.5, 0.25, 1.0, 0.75]},
]
F_EMPTY = 0.325 / 1.075 / 2


def seg_targets(size: int = 4) -> list[dict]:
    full = np.zeros((size, size), dtype=bool)
    full[: size // 2, : size // 2] = True  # a quarter of the pixels
    return [{"label": "dog", "mask": np.zeros((size, size), dtype=bool)}, {"label": "dog", "mask": full}]


@pytest.mark.unit
def test_majority_class_scores():
    scores = score_trivial(tasks.get("synth_cls"), CLS)
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["weighted_f1"] == pytest.approx(1.6 / 3)


@pytest.mark.unit
def test_whole_clip_span_scores():
    assert score_trivial(tasks.get("synth_loc"), LOC)["segment_accuracy"] == pytest.approx(5 / 12)


@pytest.mark.unit
def test_centre_box_scores():
    scores = score_trivial(tasks.get("synth_ground"), GROUND)
    assert scores["iou"] == pytest.approx(31 / 63)
    assert scores["ciou"] == pytest.approx(1 / 3)
    assert scores["label_accuracy"] == pytest.approx(2 / 3)


@pytest.mark.unit
def test_empty_mask_scores():
    targets = [{**t, "mask": torch.from_numpy(t["mask"])} for t in seg_targets()]
    scores = score_trivial(tasks.get("synth_seg"), targets)
    assert scores["j"] == pytest.approx(0.5)
    assert scores["f"] == pytest.approx(F_EMPTY)


@pytest.mark.unit
def test_no_targets_is_an_error_naming_the_task():
    with pytest.raises(ValueError, match="synth_cls"):
        score_trivial(tasks.get("synth_cls"), [])


def write_targets(root, task: str, targets: list[dict], split: str = "test") -> None:
    """Shards whose media are placeholders: the baseline must never decode them."""
    with ShardWriter(root, task, split, maxcount=2) as writer:
        for i, target in enumerate(targets):
            writer.write(f"{task}-{i:03d}", {"i": i}, dict(target), {"mp4": b"not a video"})


@pytest.mark.unit
def test_read_targets_from_shards(tmp_path):
    write_targets(
        tmp_path,
        "synth_seg",
        [{**t, "mask": np.kron(t["mask"], np.ones((2, 2), bool))} for t in seg_targets()],
    )  # 8×8 on disk
    targets = read_targets(tmp_path, "synth_seg", "test", mask_size=4)
    assert [t["label"] for t in targets] == ["dog", "dog"]
    assert targets[0]["mask"].shape == (4, 4) and targets[0]["mask"].dtype == torch.bool
    assert not targets[0]["mask"].any() and int(targets[1]["mask"].sum()) == 4
    assert read_targets(tmp_path, "synth_seg", "test")[1]["mask"].shape == (8, 8)


@pytest.mark.unit
def test_unreadable_sample_is_skipped_with_a_warning(tmp_path):
    write_targets(tmp_path, "synth_cls", CLS)
    shard = tmp_path / "synth_cls" / "test" / "shard-000001.tar"  # the writer's last shard (maxcount 2)
    with tarfile.open(shard, "a") as tar:
        info = tarfile.TarInfo("broken-000.json")
        data = b"{not json"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.warns(UserWarning, match="broken-000"):
        targets = read_targets(tmp_path, "synth_cls", "test")
    assert len(targets) == 3


@pytest.mark.unit
def test_trivial_scores_from_shards_match_hand_numbers(tmp_path):
    write_targets(tmp_path, "synth_cls", CLS)
    write_targets(tmp_path, "synth_loc", LOC)
    write_targets(tmp_path, "synth_seg", seg_targets())
    scores = trivial_scores([(t, tmp_path) for t in ("synth_cls", "synth_loc", "synth_seg")], "test")
    assert scores["synth_cls"]["accuracy"] == pytest.approx(2 / 3)
    assert scores["synth_loc"]["segment_accuracy"] == pytest.approx(5 / 12)
    assert scores["synth_seg"]["j"] == pytest.approx(0.5)
    assert scores["synth_seg"]["f"] == pytest.approx(F_EMPTY)


@pytest.mark.unit
def test_datamodule_baselines_use_its_eval_tasks_roots_and_split_names(tmp_path):
    other = tmp_path / "other"
    write_targets(tmp_path, "synth_cls", CLS, split="holdout")
    write_targets(other, "synth_loc", LOC, split="holdout")
    write_targets(tmp_path, "synth_ground", GROUND, split="holdout")
    datamodule = MultiTaskDataModule(
        root=str(tmp_path),
        tasks=[
            "synth_cls",
            {"name": "synth_loc", "root": str(other)},
            {"name": "synth_ground", "eval": False},
        ],
        test_split="holdout",
        media=MediaSpec(frame_size=4),
    )
    scores = datamodule_trivial_scores(datamodule, "test")
    assert sorted(scores) == ["synth_cls", "synth_loc"]
    assert scores["synth_loc"]["segment_accuracy"] == pytest.approx(5 / 12)
