"""VALOR-32K (``avcap``) and UnAV-100 (``unav100``) converters."""

import json

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.unav100 import read_unav100
from crabplus.data.converters.valor32k import read_valor32k


@pytest.mark.integration
def test_valor32k_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    recs = [{"video_id": "abc_30.000_40.000", "desc": "A man plays guitar while a dog barks."}]
    put_file(src / "VALOR-32K-annotations" / "desc_test.json", json.dumps(recs))
    put_file(src / "videos" / "abc_30.000_40.000.mp4", media.mp4)
    assert main(["valor32k", "--src", str(src), "--out", str(out), "--split", "test"]) == 0
    (s,) = read_shards(out, "avcap", "test")
    assert s["__key__"] == "abc_30_000_40_000" and s["json"]["meta"]["video_id"] == "abc_30.000_40.000"
    assert s["json"]["target"] == {"text": "A man plays guitar while a dog barks."} and s["mp4"] == media.mp4


@pytest.mark.unit
def test_valor32k_missing_video_id_names_record_and_empty_desc_is_skipped(tmp_path, put_file):
    put_file(tmp_path / "desc_train.json", json.dumps([{"video_id": "a", "desc": "x"}, {"video_id": "b"}]))
    skip = list(read_valor32k(tmp_path, "train"))[1]
    assert (skip.origin[1], skip.reason) == ("record 1", "empty caption")
    put_file(tmp_path / "desc_train.json", json.dumps([{"desc": "x"}]))
    with pytest.raises(
        AnnotationError, match=r"desc_train\.json, record 0: missing field\(s\) \['video_id'\]"
    ):
        list(read_valor32k(tmp_path, "train"))


def _unav(annotations) -> dict:
    return {
        "database": {
            "v1": {"subset": "validation", "duration": 12.5, "annotations": annotations},
            "v2": {"subset": "train", "duration": 10.0, "annotations": []},
        }
    }


@pytest.mark.integration
def test_unav100_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    anns = [
        {"segment": [4.0, 9.5], "label": "dog barking", "label_id": 3},
        {"segment": [0.0, 3.2], "label": "people speaking", "label_id": 12},
    ]
    put_file(src / "unav100_annotations.json", json.dumps(_unav(anns)))
    put_file(src / "videos" / "v1.mp4", media.mp4)
    assert main(["unav100", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    (s,) = read_shards(out, "unav100", "val")
    assert s["json"]["target"] == {
        "events": [["people speaking", 0.0, 3.2], ["dog barking", 4.0, 9.5]],
        "duration": 12.5,
    }


@pytest.mark.unit
def test_unav100_bad_segment_names_video_and_annotation(tmp_path, put_file):
    put_file(tmp_path / "unav100_annotations.json", json.dumps(_unav([{"segment": [1.0], "label": "dog"}])))
    with pytest.raises(
        AnnotationError, match=r"unav100_annotations\.json, video 'v1', annotation 0: field 'segment'"
    ):
        list(read_unav100(tmp_path, "val"))
