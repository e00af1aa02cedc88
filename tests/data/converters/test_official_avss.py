"""AVSS converter on a fixture in the layout AVSBench-semantic's loaders read (fixtures/avss/metadata.csv).

Like S4/MS3, the AVSS ``metadata.csv`` is released with the data, not in a public repository; the fixture
has its columns (``vid, uid, s_min, s_sec, a_obj, split, label``), the three subset folders (``v1s`` train:
first frame annotated only; ``v1m`` 5 frames; ``v2`` 10 frames) and two rows that must be skipped: a clip with
no ``labels_rgb`` png at all (``no annotated frame``) and a clip whose ``audio.wav`` is absent
(``missing media``: the row is listed once, none of its frames is written). Masks are painted with AVSBench palette colours from class ids
drawn here; the converted targets must give back the same class maps.
"""

import csv
import io

import numpy as np
import pytest
from PIL import Image

from crabplus.data.converters import main
from crabplus.evaluate.trivial import read_targets
from crabplus.tasks.families import AVSBENCH_CLASSES, AVSBENCH_PALETTE

FRAMES = {"v1s": 5, "v1m": 5, "v2": 10}
NO_MASKS = "2xYzPqRsTuV_10"  # frames and audio, but no labels_rgb/
NO_AUDIO = "3mNoPqRsTuV_0"  # masks and frames, no audio.wav


def _paint(ids: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(AVSBENCH_PALETTE, dtype=np.uint8)[ids]).save(buf, format="PNG")
    return buf.getvalue()


def _layout(src, put_file, media) -> dict[str, np.ndarray]:
    """Write every row's files (quirks included); returns the painted class map of each annotated frame."""
    rng = np.random.default_rng(0)
    painted = {}
    with (src / "metadata.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        base = src / row["label"] / row["uid"]
        if row["uid"] != NO_AUDIO:
            put_file(base / "audio.wav", media.wav)
        annotated = [0] if (row["label"], row["split"]) == ("v1s", "train") else range(FRAMES[row["label"]])
        for i in range(FRAMES[row["label"]]):
            put_file(base / "frames" / f"{i}.jpg", media.jpg)
            if row["uid"] != NO_MASKS and i in annotated:
                classes = [AVSBENCH_CLASSES.index(row["a_obj"]), int(rng.integers(1, len(AVSBENCH_CLASSES)))]
                ids = rng.choice([0, *classes], size=(8, 12), p=[0.5, 0.3, 0.2])
                put_file(base / "labels_rgb" / f"{i}.png", _paint(ids))
                painted[f"{row['uid']}_{i}"] = ids
    return painted


def _expected(src, split, painted) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """Independent reading: key -> json target of the usable frames, and (line, reason) of the skipped rows."""
    with (src / "metadata.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    targets, skips = {}, []
    for line, row in enumerate(rows, start=2):
        if row["split"] != split:
            continue
        keys = [k for k in painted if k.rsplit("_", 1)[0] == row["uid"]]
        if not keys:
            skips.append((f"line {line}", "no annotated frame"))
        elif row["uid"] == NO_AUDIO:
            skips.append((f"line {line}", "missing media"))
        else:
            targets.update({k: {"label": row["a_obj"]} for k in keys})
    return targets, skips


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_avss_rows_as_the_official_loader_reads_them(
    split, tmp_path, official, put_file, media, read_shards, skipped
):
    src, out = official("avss", tmp_path / "src"), tmp_path / "out"
    painted = _layout(src, put_file, media)
    assert main(["avss", "--src", str(src), "--out", str(out), "--split", split]) == 0
    targets, skips = _expected(src, split, painted)
    samples = read_shards(out, "avss", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == targets
    assert [(r["line"], r["reason"]) for r in skipped(out, "avss", split)] == skips
    maps = read_targets(out, "avss", split)
    assert [t["mask"].numpy().tolist() for t in maps] == [painted[s["__key__"]].tolist() for s in samples]
    assert len(samples) == {"train": 1 + 5, "val": 10, "test": 10}[split]
