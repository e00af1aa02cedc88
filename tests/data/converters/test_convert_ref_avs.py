"""Ref-AVS converter on rows of the official ``data/metadata.csv`` (fixtures/ref_avs, CRLF and quoting kept).

Quirks copied with the rows: an expression that is the annotation tool's error message (quoted, with
commas), a row repeated verbatim (0EPK7Pv_lbE..._emergency-car_1), one uid given twice with different
frames and expressions (MDyjY3uiWp0..._saw_4), a ``TODO`` split, and the null split's ``null_c-<vid>`` uids.
"""

import csv

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.ref_avs import read_ref_avs

SUBSET = {"train": "seen", "val": "seen", "test_s": "seen", "test_u": "unseen", "test_n": "null"}


def _rows(src) -> list[dict]:
    with (src / "metadata.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _expected(src, split) -> dict[str, dict]:
    """Independent reading: uid_<frame> -> target for the usable expressions of ``split``."""
    rows = [r for r in _rows(src) if r["split"] == split and not r["exp"].startswith("[Error]")]
    by_uid: dict[str, list] = {}
    for r in rows:
        by_uid.setdefault(r["uid"], []).append((r["fid"], r["exp"]))
    out = {}
    for uid, versions in by_uid.items():
        if len(set(versions)) == 1:
            obj = uid.split("_")[-2]
            out.update({f"{uid}_{i}": {"label": obj, "subset": SUBSET[split]} for i in range(10)})
    return out


def _media(src, put_file, media):
    for r in _rows(src):
        folder = r["uid"].rsplit("_", 2)[0]  # the official loader's media folder (null_c-<vid> for test_n)
        put_file(src / "media" / folder / "audio.wav", media.wav)
        for i in range(10):
            put_file(src / "media" / folder / "frames" / f"{i}.jpg", media.jpg)
            put_file(src / "gt_mask" / folder / f"fid_{r['fid']}" / f"0000{i}.png", media.mask)


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "val", "test_s", "test_u", "test_n"])
def test_ref_avs_rows_as_published(split, tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("ref_avs", tmp_path / "src"), tmp_path / "out"
    _media(src, put_file, media)
    assert main(["ref_avs", "--src", str(src), "--out", str(out), "--split", split]) == 0
    samples = read_shards(out, "ref_avs", split)
    assert {s["__key__"]: s["json"]["target"] for s in samples} == _expected(src, split)
    assert all(s["jpg"] == media.jpg and s["mask.png"] == media.mask and "wav" in s for s in samples)
    reasons = [(r["line"], r["reason"]) for r in skipped(out, "ref_avs", split)]
    assert (
        reasons
        == {
            "train": [("line 5", "expression is an annotation error")],
            "val": [],
            "test_s": [
                ("line 8", "duplicate key with conflicting annotation"),
                ("line 14", "duplicate key with conflicting annotation"),
            ],
            "test_u": [("line 12", "duplicate row")],
            "test_n": [],
        }[split]
    )


@pytest.mark.integration
def test_ref_avs_meta_keeps_the_expression(tmp_path, official, put_file, media, read_shards):
    src, out = official("ref_avs", tmp_path / "src"), tmp_path / "out"
    _media(src, put_file, media)
    assert main(["ref_avs", "--src", str(src), "--out", str(out), "--split", "test_n"]) == 0
    third = read_shards(out, "ref_avs", "test_n")[3]["json"]["meta"]
    assert third["expression"] == "The object making a sound with a faster rhythm" and third["frame"] == 3
    assert third["video_id"] == "-cLOg0sQ0Zo_420000_430000" and third["fid"] == "0"


@pytest.mark.unit
def test_ref_avs_bad_uid_names_file_and_line(tmp_path, put_file):
    put_file(
        tmp_path / "metadata.csv", "vid,uid,split,fid,exp\nv1,v1_guitar_0,train,1,a\nv1,broken,train,1,b\n"
    )
    with pytest.raises(AnnotationError, match=r"metadata\.csv, line 3: field 'uid' 'broken'"):
        list(read_ref_avs(tmp_path, "train"))
