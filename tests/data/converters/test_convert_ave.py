"""AVE converter on rows of the official ``Annotations.txt`` (fixtures/ave: BOM + CRLF + header in
trainSet, no header in testSet; the zero-length row of VWi2ENBuTbw; two videos annotated with two events)."""

import re

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.ave import read_ave

MISSING = {"0IklLP7_kBw"}  # a row whose clip was not downloaded


def _expected(path) -> dict[str, dict]:
    """Independent reading of an AVE split file: key -> target, for the rows that must become samples."""
    out = {}
    for line in path.read_bytes().decode("utf-8").lstrip("\ufeff").splitlines():
        cat, vid, _quality, start, end = line.split("&")
        if cat == "Category" or vid in MISSING or float(start) >= float(end):
            continue
        key = re.sub(r"[^A-Za-z0-9_-]", "_", f"{vid}_{cat}")
        out[key] = {"label": cat, "segments": [[float(start), float(end)]], "duration": 10.0}
    return out


def _convert(tmp_path, official, put_file, media, split: str):
    src, out = official("ave", tmp_path / "src"), tmp_path / "out"
    for line in (src / f"{split}Set.txt").read_text(encoding="utf-8-sig").splitlines():
        vid = line.split("&")[1]
        if vid not in MISSING | {"VideoID"}:
            put_file(src / "AVE" / f"{vid}.mp4", media.mp4)
    return src, out, main(["ave", "--src", str(src), "--out", str(out), "--split", split])


@pytest.mark.integration
def test_ave_train_rows_as_published(tmp_path, official, put_file, media, read_shards, skipped):
    src, out, code = _convert(tmp_path, official, put_file, media, "train")
    assert code == 0
    samples = read_shards(out, "ave", "train")
    assert {s["__key__"]: s["json"]["target"] for s in samples} == _expected(src / "trainSet.txt")
    assert {"3tsi7DKGrWQ_Banjo", "3tsi7DKGrWQ_Mandolin"} <= {s["__key__"] for s in samples}  # two events
    assert all(s["mp4"] == media.mp4 for s in samples)
    rows = skipped(out, "ave", "train")
    assert [(r["line"], r["reason"]) for r in rows] == [
        ("line 4", "zero-length span"),
        ("line 9", "missing media"),
    ]
    assert rows[0]["file"].endswith("trainSet.txt") and "EndTime=0" in rows[0]["detail"]


@pytest.mark.integration
@pytest.mark.parametrize("split", ["val", "test"])
def test_ave_val_test_with_and_without_header(
    split, tmp_path, official, put_file, media, read_shards, skipped
):
    src, out, code = _convert(tmp_path, official, put_file, media, split)
    assert code == 0
    samples = read_shards(out, "ave", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == _expected(src / f"{split}Set.txt")
    assert len(samples) == 2 and skipped(out, "ave", split) == []


@pytest.mark.integration
def test_ave_split_with_nothing_usable_fails_with_counts(tmp_path, put_file, capsys):
    put_file(tmp_path / "src" / "trainSet.txt", "Church bell&VWi2ENBuTbw&good&0&0\r\n")
    assert main(["ave", "--src", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 1
    assert (
        "no samples written for split 'train' (skipped rows: zero-length span: 1)" in capsys.readouterr().err
    )
    assert not (tmp_path / "out" / "ave").exists()


@pytest.mark.unit
def test_ave_malformed_row_names_file_and_line(tmp_path, put_file):
    put_file(tmp_path / "trainSet.txt", "Church bell&RUhOCu3LNXM&good&0&10\nDog&abc&good&3\n")
    with pytest.raises(AnnotationError, match=r"trainSet\.txt, line 2: expected 5"):
        list(read_ave(tmp_path, "train"))
