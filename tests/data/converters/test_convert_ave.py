"""AVE converter: Annotations-format split files + AVE/<id>.mp4 -> ``ave`` shards."""

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.ave import read_ave

HEADER = "Category&VideoID&Quality&StartTime&EndTime\n"


def _layout(root, put, media, rows: str) -> None:
    put(root / "Annotations.txt", HEADER + rows)
    put(root / "trainSet.txt", rows)
    put(root / "testSet.txt", HEADER + rows.splitlines()[0] + "\n")
    for vid in ("RUhOCu3LNXM", "-67UNKFmRLk"):
        put(root / "AVE" / f"{vid}.mp4", media.mp4)


@pytest.mark.integration
def test_ave_train_and_test_shards(tmp_path, media, put_file, read_shards):
    rows = "Church bell&RUhOCu3LNXM&good&0&10\nMale speech, man speaking&-67UNKFmRLk&good&2&8\n"
    _layout(tmp_path / "src", put_file, media, rows)
    assert (
        main(["ave", "--src", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--split", "train"]) == 0
    )
    samples = read_shards(tmp_path / "out", "ave", "train")
    assert [s["__key__"] for s in samples] == ["RUhOCu3LNXM", "-67UNKFmRLk"]
    assert samples[1]["json"]["target"] == {
        "label": "Male speech, man speaking",
        "segments": [[2.0, 8.0]],
        "duration": 10.0,
    }
    assert samples[0]["json"]["task"] == "ave" and samples[0]["mp4"] == media.mp4
    assert (
        main(["ave", "--src", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--split", "test"]) == 0
    )
    assert len(read_shards(tmp_path / "out", "ave", "test")) == 1


@pytest.mark.unit
def test_ave_bad_row_names_file_and_line(tmp_path, media, put_file):
    _layout(tmp_path, put_file, media, "Church bell&RUhOCu3LNXM&good&0&10\nDog&abc&good&3\n")
    with pytest.raises(AnnotationError, match=r"trainSet\.txt, line 2: expected 5"):
        list(read_ave(tmp_path, "train"))


@pytest.mark.integration
def test_ave_missing_video_names_row_or_is_skipped(tmp_path, media, put_file, capsys, read_shards):
    rows = "Church bell&RUhOCu3LNXM&good&0&10\nDog&notthere&good&3&4\n"
    _layout(tmp_path / "src", put_file, media, rows)
    args = ["ave", "--src", str(tmp_path / "src"), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    assert "trainSet.txt, line 2: media file not found" in capsys.readouterr().err
    assert main([*args, "--skip-missing"]) == 0
    assert len(read_shards(tmp_path / "out", "ave", "train")) == 1
