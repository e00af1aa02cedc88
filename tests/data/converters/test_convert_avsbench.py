"""AVSBench converters: S4, ARIG (from S4 masks), MS3, AVSS -> segmentation / grounding shards."""

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.avss import read_avss
from crabplus.data.converters.ms3 import read_ms3
from crabplus.data.converters.s4 import read_s4


def _s4_layout(root, put, media, csv_rows: str) -> None:
    put(root / "s4_meta_data.csv", "name,a_obj,category,split\n" + csv_rows)
    data = root / "s4_data"
    for split, cat, name, n_masks in (("train", "dog", "dogA", 1), ("test", "car", "carB", 5)):
        put(data / "audio_wav" / split / cat / f"{name}.wav", media.wav)
        for i in range(1, 6):
            put(data / "visual_frames" / split / cat / name / f"{name}_{i}.png", media.png)
        for i in range(1, n_masks + 1):
            mask = media.empty_mask if (split, i) == ("test", 5) else media.mask
            put(data / "gt_masks" / split / cat / name / f"{name}_{i}.png", mask)


@pytest.mark.integration
def test_s4_and_arig_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    _s4_layout(src, put_file, media, "dogA,dog,dog,train\ncarB,car,car,test\n")
    for name in ("s4", "arig"):
        for split in ("train", "test"):
            assert main([name, "--src", str(src), "--out", str(out), "--split", split]) == 0
    (train,) = read_shards(out, "s4", "train")
    assert train["__key__"] == "dogA_1" and train["json"]["target"] == {"label": "dog"}
    assert train["png"] == media.png and train["mask.png"] == media.mask and train["wav"] == media.wav
    test = read_shards(out, "s4", "test")
    assert [s["json"]["meta"]["frame"] for s in test] == [0, 1, 2, 3, 4]
    arig = read_shards(out, "arig", "test")
    assert len(arig) == 4  # the empty 5th mask has no sounding object
    assert arig[0]["json"]["target"] == {"label": "car", "box": [0.25, 0.125, 0.75, 0.625]}
    assert "mask.png" not in arig[0] and arig[0]["png"] == media.png


@pytest.mark.unit
def test_s4_bad_row_names_file_and_line(tmp_path, media, put_file):
    _s4_layout(tmp_path, put_file, media, "dogA,dog,dog,train\nghost,cat,,train\n")
    with pytest.raises(
        AnnotationError, match=r"s4_meta_data\.csv, line 3: missing field\(s\) \['category'\]"
    ):
        list(read_s4(tmp_path, "train"))


def _ms3_layout(root, put, media) -> None:
    put(root / "ms3_meta_data.csv", "video_id,split\nmsA,val\nmsB,train\n")
    put(root / "ms3_data" / "audio_wav" / "val" / "msA.wav", media.wav)
    for i in range(1, 6):
        put(root / "ms3_data" / "visual_frames" / "msA" / f"msA.mp4_{i}.png", media.png)
        put(root / "ms3_data" / "gt_masks" / "val" / "msA" / f"msA_{i}.png", media.mask)


@pytest.mark.integration
def test_ms3_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    _ms3_layout(src, put_file, media)
    assert main(["ms3", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    samples = read_shards(out, "ms3", "val")
    assert [s["__key__"] for s in samples] == [f"msA_{i}" for i in range(1, 6)]
    assert samples[2]["json"]["target"] == {"label": None}
    assert all({"png", "mask.png", "wav"} <= set(s) for s in samples)


@pytest.mark.unit
def test_ms3_missing_mask_names_row(tmp_path, media, put_file):
    _ms3_layout(tmp_path, put_file, media)
    (tmp_path / "ms3_data" / "gt_masks" / "val" / "msA" / "msA_3.png").unlink()
    samples = list(read_ms3(tmp_path, "val"))
    assert not samples[2].media["mask"].is_file() and samples[2].origin[1] == "line 2"


def _avss_layout(root, put, media, rows: str) -> None:
    put(root / "metadata.csv", "vid,uid,s_min,s_sec,a_obj,split,label\n" + rows)
    base = root / "v1s" / "vid1_1"
    put(base / "audio.wav", media.wav)
    for i in range(5):
        put(base / "frames" / f"{i}.jpg", media.jpg)
    put(base / "labels_rgb" / "0.png", media.mask)


@pytest.mark.integration
def test_avss_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    _avss_layout(src, put_file, media, "vid1,vid1_1,0,0,dog,train,v1s\n")
    assert main(["avss", "--src", str(src), "--out", str(out), "--split", "train"]) == 0
    (s,) = read_shards(out, "avss", "train")
    assert (
        s["json"]["target"] == {"label": "dog"} and s["json"]["meta"]["mask_format"] == "avsbench_rgb_palette"
    )
    assert s["jpg"] == media.jpg and s["mask.png"] == media.mask and s["wav"] == media.wav


@pytest.mark.unit
def test_avss_bad_subset_names_file_and_line(tmp_path, media, put_file):
    _avss_layout(tmp_path, put_file, media, "vid1,vid1_1,0,0,dog,train,v1s\nvid2,vid2_1,0,0,cat,train,v9\n")
    with pytest.raises(AnnotationError, match=r"metadata\.csv, line 3: field 'label' must be one of"):
        list(read_avss(tmp_path, "train"))
