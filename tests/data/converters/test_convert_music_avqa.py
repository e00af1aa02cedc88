"""MUSIC-AVQA converter: avqa-<split>.json templates -> ``music_avqa`` shards.

fixtures/music_avqa holds records of the official ``data/json/avqa-val.json`` (with two (video, question)
pairs that appear twice with different answers, and the full-width ``？`` of the counting questions) and the
same questions from the corrected ``data/json_update/avqa-val.json``.
"""

import ast
import json
import shutil

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


def _expected(path) -> dict[str, dict]:
    """Independent reading: key -> (target, question) for the (video, question) pairs with one answer."""
    recs = json.loads(path.read_text(encoding="utf-8"))
    answers: dict[str, set] = {}
    for r in recs:
        answers.setdefault(f"{r['video_id']}_{r['question_id']}", set()).add(r["anser"])
    out = {}
    for r in recs:
        key = f"{r['video_id']}_{r['question_id']}"
        if len(answers[key]) == 1:
            words = iter(ast.literal_eval(r["templ_values"]))
            question = "".join(
                next(words) if w.startswith("<") else w for w in _split_slots(r["question_content"])
            )
            target = {"answer": r["anser"], "type": "/".join(ast.literal_eval(r["type"]))}
            out[key] = (target, question.replace("\uff1f", "?"))
    return out


def _split_slots(text: str) -> list[str]:
    parts, rest = [], text
    while "<" in rest:
        head, _, tail = rest.partition("<")
        slot, _, rest = tail.partition(">")
        parts += [head, f"<{slot}>"]
    return [*parts, rest]


def _convert(tmp_path, official, put_file, media, corrected: bool):
    src, out = official("music_avqa", tmp_path / "src"), tmp_path / "out"
    if not corrected:
        shutil.rmtree(src / "json_update")
    for r in json.loads((src / "json" / "avqa-val.json").read_text()):
        put_file(src / "MUSIC-AVQA-videos-Real" / f"{r['video_id']}.mp4", media.mp4)
    return src, out, main(["music_avqa", "--src", str(src), "--out", str(out), "--split", "val"])


@pytest.mark.integration
def test_music_avqa_prefers_json_update(tmp_path, official, put_file, media, read_shards, skipped):
    src, out, code = _convert(tmp_path, official, put_file, media, corrected=True)
    assert code == 0
    samples = read_shards(out, "music_avqa", "val")
    got = {s["__key__"]: (s["json"]["target"], s["json"]["meta"]["question"]) for s in samples}
    assert got == _expected(src / "json_update" / "avqa-val.json")
    assert got["00007300_291"][0]["answer"] == "no"  # the corrected answer (the original has yes and no)
    assert got["00000132_31"][1] == "How many sounding banjo in the video?"  # full-width ？ made ASCII
    assert skipped(out, "music_avqa", "val") == []


@pytest.mark.integration
def test_music_avqa_original_json_skips_conflicting_pairs(
    tmp_path, official, put_file, media, read_shards, skipped
):
    src, out, code = _convert(tmp_path, official, put_file, media, corrected=False)
    assert code == 0
    samples = read_shards(out, "music_avqa", "val")
    got = {s["__key__"]: (s["json"]["target"], s["json"]["meta"]["question"]) for s in samples}
    assert got == _expected(src / "json" / "avqa-val.json")
    assert len(got) == 4
    rows = skipped(out, "music_avqa", "val")
    assert [(r["line"], r["reason"]) for r in rows] == [
        (f"record {i}", "duplicate key with conflicting annotation") for i in (4, 5, 6, 7)
    ]


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
