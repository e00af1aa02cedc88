"""Emotion converters (MER2024, MAFW, DFEW) on fixtures in the layout their official loaders read.

The label files of these datasets are released only on request, so no public repository holds their rows:
fixtures/mer24 uses real MER2024 clip names (as in MERTools' published open-set file) with the
``name,discrete`` columns the MERTools loader reads (mixed-case labels, as one public loader spells them);
fixtures/mafw the ``<clip file> <emotion>`` lines of ``Train & Test Set/single/no_caption/set_<k>/*.txt``
(CRLF); fixtures/dfew the ``video_name,label`` csvs of ``EmoLabel_DataSplit`` (unpadded ids, labels 1-7).
In each, one listed clip is missing on disk and must be skipped.
"""

import csv

import pytest

from crabplus.data.converters import main

DFEW = {"1": "happy", "2": "sad", "3": "neutral", "4": "angry", "5": "surprise", "6": "disgust", "7": "fear"}


def _csv(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.integration
def test_mer24_label_file(tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("mer24", tmp_path / "src"), tmp_path / "out"
    rows = _csv(src / "label-disdim.csv")
    for r in rows[:-1]:  # the last clip is missing
        put_file(src / "video-labeled" / f"{r['name']}.mp4", media.mp4)
    assert main(["mer24", "--src", str(src), "--out", str(out)]) == 0
    samples = read_shards(out, "mer24", "train")
    assert {s["__key__"]: s["json"]["target"] for s in samples} == {
        r["name"]: {"label": r["discrete"].lower()} for r in rows[:-1]
    }
    assert [(r["line"], r["reason"]) for r in skipped(out, "mer24", "train")] == [("line 7", "missing media")]


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "test"])
def test_mafw_fold_lists(split, tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("mafw", tmp_path / "src"), tmp_path / "out"
    listing = src / "Train & Test Set" / "single" / "no_caption" / "set_1" / f"{split}.txt"
    lines = [line.split() for line in listing.read_text().splitlines() if line.strip()]
    for clip, _ in lines[1:]:  # the first clip is missing
        put_file(src / "data" / "clips" / clip, media.mp4)
    assert main(["mafw", "--src", str(src), "--out", str(out), "--split", split]) == 0
    samples = read_shards(out, "mafw", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == {
        clip.split(".")[0]: {"label": emotion} for clip, emotion in lines[1:]
    }
    assert [(r["line"], r["reason"]) for r in skipped(out, "mafw", split)] == [("line 1", "missing media")]


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "test"])
def test_dfew_fold_csvs(split, tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("dfew", tmp_path / "src"), tmp_path / "out"
    rows = _csv(src / "EmoLabel_DataSplit" / f"{split}(single-labeled)" / "set_1.csv")
    for r in rows[:-1]:
        put_file(src / "Clip" / "original" / f"{int(r['video_name']):05d}.mp4", media.mp4)
    assert main(["dfew", "--src", str(src), "--out", str(out), "--split", split]) == 0
    samples = read_shards(out, "dfew", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == {
        f"{int(r['video_name']):05d}": {"label": DFEW[r["label"]]} for r in rows[:-1]
    }
    assert [r["reason"] for r in skipped(out, "dfew", split)] == ["missing media"]
