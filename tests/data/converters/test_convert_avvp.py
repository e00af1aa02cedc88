"""AVVP (LLP) converter: weak train labels and dense eval events -> ``avvp`` shards."""

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.avvp import read_avvp


def _layout(root, put, media, eval_audio: str) -> None:
    put(root / "AVVP_train.csv", "filename\tevent_labels\nvidA_30_40\tSpeech,Dog\n")
    put(root / "AVVP_val_pd.csv", "filename\tevent_labels\nvidB_0_10\tSpeech,Violin_fiddle\n")
    put(root / "AVVP_test_pd.csv", "filename\tevent_labels\nvidC_10_20\tCar\n")
    put(root / "AVVP_eval_audio.csv", "filename\tonset\toffset\tevent_labels\n" + eval_audio)
    put(
        root / "AVVP_eval_visual.csv",
        "filename\tonset\toffset\tevent_labels\nvidB_0_10\t0\t10\tViolin_fiddle\n",
    )
    for vid in ("vidA_30_40", "vidB_0_10", "vidC_10_20"):
        put(root / "LLP_dataset" / "video" / f"{vid}.mp4", media.mp4)


@pytest.mark.integration
def test_avvp_weak_train_and_dense_val(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    _layout(src, put_file, media, "vidB_0_10\t3\t6\tViolin_fiddle\nvidB_0_10\t0\t2\tSpeech\n")
    for split in ("train", "val", "test"):
        assert main(["avvp", "--src", str(src), "--out", str(out), "--split", split]) == 0
    (train,) = read_shards(out, "avvp", "train")
    assert train["json"]["target"] == {
        "audio": [["Speech", 0.0, 10.0], ["Dog", 0.0, 10.0]],
        "visual": [["Speech", 0.0, 10.0], ["Dog", 0.0, 10.0]],
        "duration": 10.0,
    }
    assert train["json"]["meta"]["weak"] is True and "mp4" in train
    (val,) = read_shards(out, "avvp", "val")
    assert val["json"]["target"] == {
        "audio": [["Speech", 0.0, 2.0], ["Violin_fiddle", 3.0, 6.0]],
        "visual": [["Violin_fiddle", 0.0, 10.0]],
        "duration": 10.0,
    }
    (test,) = read_shards(out, "avvp", "test")
    assert test["json"]["target"]["audio"] == [] and test["json"]["meta"]["weak"] is False


@pytest.mark.unit
def test_avvp_bad_eval_row_names_file_and_line(tmp_path, media, put_file):
    _layout(tmp_path, put_file, media, "vidB_0_10\t3\t6\tSpeech\nvidB_0_10\tx\t6\tDog\n")
    with pytest.raises(AnnotationError, match=r"AVVP_eval_audio\.csv, line 3: field 'onset' is not a number"):
        list(read_avvp(tmp_path, "val"))


@pytest.mark.unit
def test_avvp_missing_column_names_header(tmp_path, put_file):
    put_file(tmp_path / "AVVP_train.csv", "filename\tlabels\nvidA\tSpeech\n")
    with pytest.raises(
        AnnotationError, match=r"AVVP_train\.csv, line 1: header lacks column\(s\) \['event_labels'\]"
    ):
        list(read_avvp(tmp_path, "train"))
