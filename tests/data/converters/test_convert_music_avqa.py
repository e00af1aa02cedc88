"""MUSIC-AVQA converter: avqa-<split>.json templates -> ``music_avqa`` shards."""

import json

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.music_avqa import fill_template, read_music_avqa


def _record(**over):
    rec = {
        "video_id": "00000272",
        "question_id": 6,
        "type": '["Audio-Visual", "Existential"]',
        "question_content": "Is there a <Object> sound?",
        "templ_values": '["cello"]',
        "question_deleted": 0,
        "anser": "yes",
    }
    rec.update(over)
    return rec


@pytest.mark.integration
def test_music_avqa_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    recs = [
        _record(),
        _record(
            question_id=7,
            question_content="Where is the <LR> <Object>?",
            templ_values="['left', 'cello']",
            anser="left",
            type='["Visual", "Location"]',
        ),
    ]
    put_file(src / "json" / "avqa-val.json", json.dumps(recs))
    put_file(src / "MUSIC-AVQA-videos-Real" / "00000272.mp4", media.mp4)
    assert main(["music_avqa", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    a, b = read_shards(out, "music_avqa", "val")
    assert a["json"]["target"] == {"answer": "yes", "type": "Audio-Visual/Existential"}
    assert a["json"]["meta"]["question"] == "Is there a cello sound?"
    assert b["json"]["meta"]["question"] == "Where is the left cello?"
    assert b["__key__"] == "00000272_7" and b["mp4"] == media.mp4


@pytest.mark.unit
def test_fill_template_counts_slots():
    assert fill_template("Is the <Object> louder than the <Object>?", ["cello", "piano"]) == (
        "Is the cello louder than the piano?"
    )
    assert fill_template("Is there a <Object>?", []) is None


@pytest.mark.unit
def test_music_avqa_missing_field_names_record(tmp_path, put_file):
    rec = _record()
    del rec["anser"]
    put_file(tmp_path / "avqa-train.json", json.dumps([_record(), rec]))
    with pytest.raises(AnnotationError, match=r"avqa-train\.json, record 1: missing field\(s\) \['anser'\]"):
        list(read_music_avqa(tmp_path, "train"))
