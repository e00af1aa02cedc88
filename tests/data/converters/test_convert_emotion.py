"""Emotion recognition converters: MER2024 (``mer24``), MAFW, DFEW."""

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.dfew import read_dfew
from crabplus.data.converters.mafw import read_mafw
from crabplus.data.converters.mer24 import read_mer24
from crabplus.data.decode import load_video


@pytest.mark.integration
def test_mer24_csv_mp4_and_avi(tmp_path, media, put_file, read_shards, legacy_video):
    src, out = tmp_path / "src", tmp_path / "out"
    put_file(
        src / "label-disdim.csv",
        "name,discrete,valence\nsample_00000001,Happy,1.5\nsample_00000002,worried,-2\n",
    )
    put_file(src / "video-labeled" / "sample_00000001.mp4", media.mp4)
    put_file(src / "video-labeled" / "sample_00000002.avi", legacy_video("avi", "mpeg4", with_audio=True))
    assert main(["mer24", "--src", str(src), "--out", str(out)]) == 0
    first, second = read_shards(out, "mer24", "train")
    assert first["__key__"] == "sample_00000001" and first["json"]["target"] == {"label": "happy"}
    assert first["mp4"] == media.mp4 and first["json"]["meta"] == {
        "video_id": "sample_00000001",
        "valence": 1.5,
    }
    assert second["json"]["target"] == {"label": "worried"}
    assert load_video(second["mp4"], 2, 32).shape == (2, 3, 32, 32)  # the avi, transcoded


@pytest.mark.unit
def test_mer24_bad_label_names_line(tmp_path, put_file):
    put_file(tmp_path / "label-disdim.csv", "name,discrete\nsample_1,sad\nsample_2,bored\n")
    with pytest.raises(AnnotationError, match=r"label-disdim\.csv, line 3: field 'discrete' must be one of"):
        list(read_mer24(tmp_path, "train"))
    with pytest.raises(AnnotationError, match=r"test\.csv: annotation file not found"):
        list(read_mer24(tmp_path, "test"))


@pytest.mark.integration
def test_mafw_folds(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    anno = src / "Train & Test Set" / "single" / "no_caption"
    put_file(anno / "set_1" / "train.txt", "00025.mp4 anger\n00031.mp4 helplessness\n")
    put_file(anno / "set_2" / "test.txt", "00025.mp4 anger\n")
    for clip in ("00025", "00031"):
        put_file(src / "data" / "clips" / f"{clip}.mp4", media.mp4)
    assert main(["mafw", "--src", str(src), "--out", str(out)]) == 0
    samples = read_shards(out, "mafw", "train")
    assert [(s["__key__"], s["json"]["target"]["label"]) for s in samples] == [
        ("00025", "anger"),
        ("00031", "helplessness"),
    ]
    assert main(["mafw", "--src", str(src), "--out", str(out), "--split", "test2"]) == 0
    (t,) = read_shards(out, "mafw", "test2")
    assert t["json"]["meta"] == {"video_id": "00025"} and t["mp4"] == media.mp4


@pytest.mark.unit
def test_mafw_bad_line_is_named(tmp_path, put_file):
    path = tmp_path / "Train & Test Set" / "single" / "no_caption" / "set_1" / "test.txt"
    put_file(path, "00001.mp4 fear\n00002.mp4 joy\n")
    with pytest.raises(AnnotationError, match=r"test\.txt, line 2: emotion must be one of"):
        list(read_mafw(tmp_path, "test"))
    put_file(path, "00001.mp4\n")
    with pytest.raises(AnnotationError, match=r"test\.txt, line 1: expected '<clip file> <emotion>'"):
        list(read_mafw(tmp_path, "test"))


@pytest.mark.integration
def test_dfew_label_ids_and_padded_names(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    split_dir = src / "EmoLabel_DataSplit"
    put_file(split_dir / "train(single-labeled)" / "set_1.csv", "video_name,label\n1,1\n12,7\n")
    put_file(split_dir / "test(single-labeled)" / "set_3.csv", "video_name,label\n3,4\n")
    for name in ("00001", "00012", "00003"):
        put_file(src / "Clip" / "original" / f"{name}.mp4", media.mp4)
    assert main(["dfew", "--src", str(src), "--out", str(out)]) == 0
    samples = read_shards(out, "dfew", "train")
    assert [(s["__key__"], s["json"]["target"]["label"]) for s in samples] == [
        ("00001", "happy"),
        ("00012", "fear"),
    ]
    assert main(["dfew", "--src", str(src), "--out", str(out), "--split", "test3"]) == 0
    (t,) = read_shards(out, "dfew", "test3")
    assert t["json"]["target"] == {"label": "angry"} and t["mp4"] == media.mp4


@pytest.mark.unit
def test_dfew_bad_label_names_line(tmp_path, put_file):
    put_file(
        tmp_path / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_1.csv", "video_name,label\n1,2\n2,0\n"
    )
    with pytest.raises(
        AnnotationError, match=r"set_1\.csv, line 3: field 'label' must be an id 1-7, got '0'"
    ):
        list(read_dfew(tmp_path, "test"))
