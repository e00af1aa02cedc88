"""Targets out of their sample's range (issue 19): a span past the clip, a box outside [0, 1], a label
outside the task's label set, a mask of another size than its image are skipped and counted as
``bad_target`` with shard and key — in the writer (synth/convert) and in the reader — or clipped when the
task declares ``clip_targets``."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
import warnings

import numpy as np
import pytest

from crabplus import tasks
from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.encode import encode_mask_png, encode_png
from crabplus.data.sample import MediaSpec
from crabplus.data.shards import ShardWriter, read_index
from crabplus.tasks import BadTarget, checked_target

pytestmark = pytest.mark.unit

LOC = {"label": "horn", "duration": 4.0, "segments": [[0.0, 2.0]]}
BOX = {"label": "horn", "box": [0.1, 0.2, 0.5, 0.6]}


# ----- the check itself, per target kind ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "target", "why"),
    [
        ("synth_loc", {**LOC, "segments": [[3.0, 12.5]]}, "outside the clip [0, 4] s"),
        ("synth_loc", {**LOC, "segments": [[2.0, 1.0]]}, "reversed"),
        ("synth_loc", {**LOC, "segments": [[-0.5, 1.0]]}, "outside the clip"),
        ("unav100", {"duration": 10.0, "events": [["dog", 1.0, 10.5]]}, "events[0]"),
        ("avvp", {"duration": 10.0, "audio": [], "visual": [["dog", 0.0, 11.0]]}, "visual[0]"),
        ("synth_ground", {**BOX, "box": [0.2, 0.2, 1.3, 0.5]}, "outside [0, 1]"),
        ("synth_ground", {**BOX, "box": [0.6, 0.2, 0.4, 0.5]}, "reversed"),
        ("synth_ground", {**BOX, "box": [0.1, 0.2, 0.3]}, "4 coordinates"),
    ],
    ids=["span_past_end", "span_reversed", "span_negative", "event_past_end", "parsing_event", "box_outside",
         "box_reversed", "box_three_numbers"],
)  # fmt: skip
def test_out_of_range_target_is_rejected(task, target, why):
    with pytest.raises(BadTarget, match=why.replace("[", r"\[").replace("]", r"\]")):
        checked_target(tasks.get(task), target)


@pytest.mark.parametrize(
    ("task", "target"),
    [("synth_loc", LOC), ("synth_loc", {**LOC, "segments": [[0.0, 4.0]]}), ("synth_ground", BOX),
     ("synth_ground", {**BOX, "box": [0.0, 0.0, 1.0, 1.0]}), ("synth_cls", {"label": "anything"})],
)  # fmt: skip
def test_in_range_target_is_unchanged(task, target):
    assert checked_target(tasks.get(task), target) == target


def test_declared_clipping_clips_spans_and_boxes():
    loc = dataclasses.replace(tasks.get("synth_loc"), clip_targets=True)
    out = checked_target(loc, {**LOC, "segments": [[3.0, 12.5], [-1.0, 0.5]]})
    assert out["segments"] == [[3.0, 4.0], [0.0, 0.5]]
    with pytest.raises(BadTarget, match="nothing inside"):  # entirely outside: cannot be clipped
        checked_target(loc, {**LOC, "segments": [[5.0, 6.0]]})
    ground = dataclasses.replace(tasks.get("synth_ground"), clip_targets=True)
    assert checked_target(ground, {**BOX, "box": [-0.2, 0.2, 1.3, 0.5]})["box"] == [0.0, 0.2, 1.0, 0.5]


def test_labels_outside_a_declared_label_set_are_rejected():
    cls = dataclasses.replace(tasks.get("synth_cls"), label_set=("bell", "drum"))
    assert checked_target(cls, {"label": "Drum"}) == {"label": "Drum"}  # compared in canonical form
    with pytest.raises(BadTarget, match=r"\['horn'\] not in the task's label set"):
        checked_target(cls, {"label": "horn"})
    loc = dataclasses.replace(tasks.get("synth_loc"), label_set=("bell",))
    with pytest.raises(BadTarget, match="horn"):
        checked_target(loc, LOC)


# ----- the writer ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "good", "bad", "named"),
    [("synth_loc", LOC, {**LOC, "segments": [[3.0, 12.5]]}, "12.5"),
     ("synth_ground", BOX, {**BOX, "box": [0.2, 0.2, 1.3, 0.5]}, "1.3")],
    ids=["span", "box"],
)  # fmt: skip
def test_writer_skips_and_counts_bad_targets(tmp_path, task, good, bad, named):
    with ShardWriter(tmp_path, task, "train", maxcount=4) as writer:
        assert writer.write("good", {"duration": 4.0}, good, {"wav": b"x"})
        assert not writer.write("bad", {"duration": 4.0}, bad, {"wav": b"x"})
    index = read_index(tmp_path, task, "train")
    assert index["num_samples"] == 1 and index["bad_target"] == 1
    assert writer.bad_targets[0][0] == "bad" and named in writer.bad_targets[0][1]
    with tarfile.open(tmp_path / task / "train" / "shard-000000.tar") as tar:
        assert sorted(tar.getnames()) == ["good.json", "good.wav"]


def test_writer_writes_a_clipped_target_when_the_task_declares_clipping(tmp_path, monkeypatch):
    clipping = dataclasses.replace(tasks.get("synth_loc"), clip_targets=True)
    monkeypatch.setattr("crabplus.data.shards._registered_task", lambda name: clipping)
    with ShardWriter(tmp_path, "synth_loc", "train") as writer:
        assert writer.write("late", {"duration": 4.0}, {**LOC, "segments": [[3.0, 12.5]]}, {"wav": b"x"})
    with tarfile.open(tmp_path / "synth_loc" / "train" / "shard-000000.tar") as tar:
        record = json.loads(tar.extractfile("late.json").read())
    assert record["target"]["segments"] == [[3.0, 4.0]]


# ----- the reader ----------------------------------------------------------------------------------------
def _raw_shard(root, task: str, samples: list[tuple[str, dict, dict[str, bytes]]]) -> None:
    """A val shard written member by member, bypassing the writer's check (as an old or foreign shard)."""
    folder = root / task / "val"
    folder.mkdir(parents=True)
    with tarfile.open(folder / "shard-000000.tar", "w") as tar:
        for key, target, media in samples:
            record = {"task": task, "meta": {"duration": 4.0, "classes": ["bell", "horn"]}, "target": target}
            for ext, data in {**media, "json": json.dumps(record).encode()}.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    media_keys = sorted({ext for _, _, media in samples for ext in media})
    index = {"task": task, "split": "val", "num_samples": len(samples), "version": "t",
             "shards": ["shard-000000.tar"], "counts": [len(samples)], "media": media_keys}  # fmt: skip
    (folder / "index.json").write_text(json.dumps(index))


def _read(root, task: str, lookup=tasks.get) -> tuple[list[str], MultiTaskDataModule, list[str]]:
    spec = MediaSpec(frame_size=16, decode=False)
    dm = MultiTaskDataModule(str(root), [task], batch_size=8, num_workers=0, media=spec, task_lookup=lookup)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = list(dm.val_dataloader()[0])
    for batch in batches:
        dm.observe(batch)
    keys = [k.rsplit(":", 1)[1] for b in batches for k in b["key"]]
    return keys, dm, [str(w.message) for w in caught if "skipping sample" in str(w.message)]


WAV = {"wav": b"x"}
IMG32 = encode_png(np.zeros((32, 32, 3), np.uint8))


@pytest.mark.parametrize(
    ("task", "good", "bad", "bad_media", "named"),
    [
        ("synth_loc", LOC, {**LOC, "segments": [[3.0, 12.5]]}, WAV, "outside the clip"),
        ("synth_ground", BOX, {**BOX, "box": [0.2, 0.2, 1.3, 0.5]}, {"png": IMG32, **WAV}, "outside [0, 1]"),
        (
            "synth_seg",
            {"label": "horn"},
            {"label": "horn"},
            {"png": IMG32, "mask.png": encode_mask_png(np.ones((16, 16), bool)), **WAV},
            "mask is 16x16, its image 32x32",
        ),
    ],
    ids=["span", "box", "mask"],
)
def test_reader_skips_and_counts_bad_targets_with_shard_and_key(tmp_path, task, good, bad, bad_media, named):
    good_media = {**bad_media}
    if "mask.png" in good_media:
        good_media["mask.png"] = encode_mask_png(np.ones((32, 32), bool))
    _raw_shard(tmp_path, task, [("good", good, good_media), ("bad", bad, bad_media)])
    keys, dm, messages = _read(tmp_path, task)
    assert keys == ["good"]
    assert dm.skip_counts() == {task: 1}
    assert dm.skip_counts_by_kind()[f"{task}/bad_target"] == 1
    assert len(messages) == 1 and "key 'bad'" in messages[0] and "shard-000000.tar" in messages[0]
    assert "bad_target" in messages[0] and named in messages[0]


def test_reader_checks_labels_against_a_declared_label_set(tmp_path):
    _raw_shard(tmp_path, "synth_cls", [("bell", {"label": "bell"}, WAV), ("tuba", {"label": "tuba"}, WAV)])
    declared = dataclasses.replace(tasks.get("synth_cls"), label_set=("bell", "horn"))
    keys, dm, messages = _read(tmp_path, "synth_cls", lambda name: declared)
    assert keys == ["bell"] and dm.skip_counts_by_kind()["synth_cls/bad_target"] == 1
    assert "tuba" in messages[0]


def test_reader_clips_when_the_task_declares_it(tmp_path):
    _raw_shard(tmp_path, "synth_loc", [("late", {**LOC, "segments": [[3.0, 12.5]]}, WAV)])
    clipping = dataclasses.replace(tasks.get("synth_loc"), clip_targets=True)
    spec = MediaSpec(frame_size=16, decode=False)
    dm = MultiTaskDataModule(str(tmp_path), ["synth_loc"], batch_size=8, num_workers=0, media=spec,
                             task_lookup=lambda name: clipping)  # fmt: skip
    (batch,) = list(dm.val_dataloader()[0])
    assert batch["target"][0]["segments"] == [[3.0, 4.0]]
    assert batch["answer"][0] == clipping.format_target({**LOC, "segments": [[3.0, 4.0]]})


def test_converter_lists_a_bad_target_in_skipped_rows(tmp_path):
    """The converters' writer path: the out-of-range sample is a Skip with reason bad_target, not a shard row."""
    from pathlib import Path

    from crabplus.data.converters._run import ConvertReport, _write_shards
    from crabplus.data.converters._sample import Sample

    def media() -> dict[str, bytes]:
        return {"wav": b"x"}

    origin = (Path("annotations.csv"), "line 3")
    samples = [
        Sample("synth_loc", "good", {"duration": 4.0}, LOC, origin=origin, make_media=media),
        Sample("synth_loc", "late", {"duration": 4.0}, {**LOC, "segments": [[3.0, 12.5]]}, origin=origin,
               make_media=media),
    ]  # fmt: skip
    skips, report = [], ConvertReport()
    _write_shards(samples, tmp_path, "train", 8, 1, False, skips, report)
    assert report.written == {"synth_loc": 1}
    assert [(s.reason, s.origin) for s in skips] == [("bad_target", origin)]
    assert "'late'" in skips[0].detail and "12.5" in skips[0].detail
