"""AV-UIE v2 converter: AVUIE_2/<task>/<split>.json records -> several tasks' shards, with reasoning."""

import json

import pytest

from crabplus.data.converters import AnnotationError, convert
from crabplus.data.converters.avuie import read_avuie


def _media(root, put, media, folder: str, stem: str) -> None:
    put(root / "AVUIE_2" / folder / "video" / f"{stem}.mp4", media.mp4)
    put(root / "AVUIE_2" / folder / "audio" / f"{stem}.wav", media.wav)


def _records():
    return {
        "ave": [
            {
                "video_path": "v1.mp4",
                "audio_path": "v1.wav",
                "event": "Church bell",
                "vid": "v1",
                "start_time": 1,
                "end_time": 7,
                "label_content": "<think>bells</think><answer>...</answer>",
            }
        ],
        "avqa": [
            {
                "video_path": "v2.mp4",
                "audio_path": "v2.wav",
                "video_id": "v2",
                "question_id": 9,
                "type": ["Audio", "Counting"],
                "question": "How many instruments are sounding?",
                "answer": "two",
                "label": "Two instruments. So the answer is two.",
            }
        ],
        "avqa_thu": [
            {
                "video_path": "v3.mp4",
                "audio_path": "v3.wav",
                "id": 5,
                "video_name": "v3",
                "video_id": 3,
                "question_relation": "both",
                "question_type": "which",
                "multi_choice": ["dog", "cat", "car", "bird"],
                "question_text": "What barks?",
                "answer": 0,
                "label": "dog",
            }
        ],
        "ks": [
            {
                "video_path": "v4.mp4",
                "audio_path": "v4.wav",
                "action": "playing drums",
                "label": "<answer>playing drums</answer>",
            }
        ],
        "unav": [{"video_path": "v5.mp4", "audio_path": "v5.wav", "vid": "v5", "label_content": "..."}],
    }


@pytest.mark.integration
def test_avuie_writes_each_task_with_reasoning(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    for folder, recs in _records().items():
        put_file(src / "AVUIE_2" / folder / "test.json", json.dumps(recs))
        stem = recs[0]["video_path"][:-4]
        _media(src, put_file, media, folder, stem)
    with pytest.warns(UserWarning, match=r"not converting \['unav'\]"):
        report = convert("avuie", src, out, "test")
    assert report.written == {"ave": 1, "music_avqa": 1, "avqa": 1, "ks": 1}
    (ave,) = read_shards(out, "ave", "test")
    assert ave["json"]["target"] == {"label": "Church bell", "segments": [[1.0, 7.0]], "duration": 10.0}
    assert ave["json"]["reasoning"].startswith("<think>bells") and ave["wav"] == media.wav and "mp4" in ave
    (mavqa,) = read_shards(out, "music_avqa", "test")
    assert mavqa["json"]["target"] == {"answer": "two", "type": "Audio/Counting"}
    assert mavqa["json"]["meta"]["question"] == "How many instruments are sounding?"
    (avqa,) = read_shards(out, "avqa", "test")
    assert avqa["json"]["target"] == {"answer": 0}
    assert avqa["json"]["meta"]["options"] == ["dog", "cat", "car", "bird"]
    (ks,) = read_shards(out, "ks", "test")
    assert ks["json"]["target"] == {"label": "playing drums"}


@pytest.mark.integration
def test_avuie_tasks_filter(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    recs = _records()
    for folder in ("ave", "ks"):
        put_file(src / "AVUIE_2" / folder / "train.json", json.dumps(recs[folder]))
        _media(src, put_file, media, folder, recs[folder][0]["video_path"][:-4])
    assert convert("avuie", src, out, "train", tasks=["ks"]).written == {"ks": 1}
    with pytest.raises(ValueError, match="not \\['s4'\\]"):
        convert("avuie", src, out, "train", tasks=["s4"])


@pytest.mark.unit
def test_avuie_missing_field_names_file_and_record(tmp_path, put_file):
    bad = _records()["ave"] * 2
    bad[1] = {k: v for k, v in bad[1].items() if k != "end_time"}
    put_file(tmp_path / "AVUIE_2" / "ave" / "train.json", json.dumps(bad))
    with pytest.raises(
        AnnotationError, match=r"ave/train\.json, record 1: missing field\(s\) \['end_time'\]"
    ):
        list(read_avuie(tmp_path, "train"))
