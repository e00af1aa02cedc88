"""S4, MS3, UnAV-100 and VALOR-32K converters on fixtures in the layout their official loaders read.

Their annotation files are released with the data (by form or drive), not in a public repository, so the
fixtures follow what the official code reads: AVSBench's loaders take the video name from the csv's first
column by position and ``category`` / ``split`` by name, MS3 frames are named ``<name>.mp4_<i>.png`` and
its masks are palette PNGs (read with mode ``P``); UnAV-100's loader compares ``subset`` in lower case
(``Test`` here) in an ActivityNet-style database; VALOR-32K's ``desc_<split>.json`` holds ``video_id`` (with
the clip's seconds, dots included) and ``desc``. Quirks in them: a missing mask, an empty and an over-long
UnAV segment, an empty caption and a caption listed twice.
"""

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from crabplus.data.converters import main


def _csv(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _palette_mask() -> bytes:
    img = Image.fromarray(np.array([[0, 0, 1, 1]] * 4, dtype=np.uint8), mode="P")
    img.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "val"])
def test_s4_rows_by_position(split, tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("s4", tmp_path / "src"), tmp_path / "out"
    header, *rows = _csv(src / "s4_meta_data.csv")
    data = src / "s4_data"
    mine = [r for r in rows if r[header.index("split")] == split]
    n_masks = 1 if split == "train" else 5
    expected = {}
    for k, row in enumerate(mine):
        name, cat = row[0], row[header.index("category")]
        put_file(data / "audio_wav" / split / cat / f"{name}.wav", media.wav)
        for i in range(1, 6):
            put_file(data / "visual_frames" / split / cat / name / f"{name}_{i}.png", media.png)
        for i in range(1, n_masks + 1):
            if (split, k) != ("train", 1):  # the second train video lacks its mask
                put_file(data / "gt_masks" / split / cat / name / f"{name}_{i}.png", media.mask)
                expected[f"{name}_{i}"] = {"label": cat}
    assert main(["s4", "--src", str(src), "--out", str(out), "--split", split]) == 0
    samples = read_shards(out, "s4", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == expected
    assert all(s["mask.png"] == media.mask and s["wav"] == media.wav for s in samples)
    reasons = [(r["line"], r["reason"]) for r in skipped(out, "s4", split)]
    assert reasons == ([("line 3", "missing media")] if split == "train" else [])


@pytest.mark.integration
def test_ms3_official_frame_names_and_palette_masks(
    tmp_path, official, put_file, media, read_shards, skipped
):
    src, out = official("ms3", tmp_path / "src"), tmp_path / "out"
    _header, *rows = _csv(src / "ms3_meta_data.csv")
    data, mask = src / "ms3_data", _palette_mask()
    expected = []
    for name, split in rows:
        put_file(data / "audio_wav" / split / f"{name}.wav", media.wav)
        for i in range(1, 6):
            put_file(data / "visual_frames" / name / f"{name}.mp4_{i}.png", media.png)
            if (name, i) != ("1KQw2KjJvl4_0_5000", 3):
                put_file(data / "gt_masks" / split / name / f"{name}_{i}.png", mask)
                expected += [f"{name}_{i}"] if split == "test" else []
    assert main(["ms3", "--src", str(src), "--out", str(out), "--split", "test"]) == 0
    samples = read_shards(out, "ms3", "test")
    assert [s["__key__"] for s in samples] == expected
    assert all(s["mask.png"] == mask and s["png"] == media.png for s in samples)
    assert [(r["line"], r["reason"]) for r in skipped(out, "ms3", "test")] == [("line 3", "missing media")]


@pytest.mark.integration
@pytest.mark.parametrize("split,subset", [("train", "train"), ("val", "validation"), ("test", "test")])
def test_unav100_database(split, subset, tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("unav100", tmp_path / "src"), tmp_path / "out"
    database = json.loads((src / "annotations" / "unav100_annotations.json").read_text())["database"]
    expected, bad = {}, 0
    for vid, rec in database.items():
        put_file(src / "raw_videos" / f"{vid}.mp4", media.mp4)
        if rec["subset"].lower() != subset:
            continue
        events = []
        for a in rec["annotations"]:
            s, e = a["segment"]
            if s < e <= rec["duration"]:
                events.append([a["label"], s, e])
            else:
                bad += 1
        expected[vid] = {"events": sorted(events, key=lambda ev: (ev[1], ev[2])), "duration": rec["duration"]}
    assert main(["unav100", "--src", str(src), "--out", str(out), "--split", split]) == 0
    samples = read_shards(out, "unav100", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == expected
    rows = skipped(out, "unav100", split)
    assert len(rows) == bad == (2 if split == "val" else 0)
    assert [r["reason"] for r in rows] == ["zero-length span", "span reversed or outside the clip"][
        : len(rows)
    ]
    assert all("annotation" in r["line"] for r in rows)


@pytest.mark.integration
def test_valor32k_captions(tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("valor32k", tmp_path / "src"), tmp_path / "out"
    records = json.loads((src / "desc_test.json").read_text())
    for rec in records:
        put_file(src / "videos" / f"{rec['video_id']}.mp4", media.mp4)
    assert main(["valor32k", "--src", str(src), "--out", str(out), "--split", "test"]) == 0
    samples = read_shards(out, "avcap", "test")
    expected = {r["video_id"].replace(".", "_"): {"text": r["desc"]} for r in records if r["desc"]}
    assert {s["__key__"]: s["json"]["target"] for s in samples} == expected
    assert {s["json"]["meta"]["video_id"] for s in samples} == {r["video_id"] for r in records if r["desc"]}
    reasons = [(r["line"], r["reason"]) for r in skipped(out, "avcap", "test")]
    assert reasons == [("record 2", "empty caption"), ("record 3", "duplicate row")]
