"""Cross-modal matching converters (``a2v``, ``v2a``): seeded pairs of labelled AV clips, composed media."""

import io

import av
import pytest

from crabplus import tasks
from crabplus.data.converters import AnnotationError, NothingWritten, convert, main
from crabplus.data.converters.a2v import read_a2v
from crabplus.data.converters.v2a import read_v2a
from crabplus.data.decode import load_audio

LABELS = "clip,label,split\ndrum1,drums,train\ndrum2.avi,drums,train\ndog1,dog,train\ncat1,cat,test\n"


def _layout(src, put, media, legacy_video) -> None:
    put(src / "labels.csv", LABELS)
    for clip in ("drum1", "dog1", "cat1"):
        put(src / "clips" / f"{clip}.mp4", media.mp4)
    put(src / "clips" / "drum2.avi", legacy_video("avi", "mpeg4", with_audio=True))


def _frames(mp4: bytes) -> int:
    with av.open(io.BytesIO(mp4)) as container:
        assert not container.streams.audio  # the composed video is silent: the wav carries the sound
        return sum(1 for _ in container.decode(video=0))


def _check(task, samples, labels):
    for s in samples:
        meta, target = s["json"]["meta"], s["json"]["target"]
        prompt = tasks.get(task).build_prompt(meta)
        assert prompt.endswith("Answer one or two.\nOptions: one; two.")
        assert meta["options"] == ["one", "two"] and target["label"] in ("one", "two")
        position = ("one", "two").index(target["label"])
        assert meta["candidates"][position] == meta["video_id"]
        assert (
            labels[meta["candidates"][1 - position]] != labels[meta["video_id"]]
        )  # partner of another label
        assert meta["segment_seconds"] == pytest.approx(1.0, abs=0.13)


@pytest.mark.integration
def test_a2v_pairs_and_media(tmp_path, media, put_file, read_shards, legacy_video):
    src, out = tmp_path / "src", tmp_path / "out"
    _layout(src, put_file, media, legacy_video)
    assert main(["a2v", "--src", str(src), "--out", str(out)]) == 0
    samples = read_shards(out, "a2v", "train")
    assert [s["__key__"] for s in samples] == ["drum1", "drum2", "dog1"]  # cat1 is in test
    _check("a2v", samples, {"drum1": "drums", "drum2": "drums", "dog1": "dog"})
    for s in samples:
        seg = s["json"]["meta"]["segment_seconds"]
        assert _frames(s["mp4"]) == 2 * round(seg * 8)  # both clips, one after the other, at 8 fps
        assert load_audio(s["wav"], 16000).numel() == round(seg * 16000)  # the query's own sound
    # deterministic: a second run gives the same pairs
    assert main(["a2v", "--src", str(src), "--out", str(tmp_path / "again")]) == 0
    again = read_shards(tmp_path / "again", "a2v", "train")
    assert [s["json"] for s in again] == [s["json"] for s in samples]


@pytest.mark.integration
def test_v2a_class_folders(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    for rel in ("drums/a.mp4", "drums/b.mp4", "dog/c.mp4"):
        put_file(src / "val" / rel, media.mp4)
    assert main(["v2a", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    samples = read_shards(out, "v2a", "val")
    assert [s["__key__"] for s in samples] == ["dog_c", "drums_a", "drums_b"]
    _check("v2a", samples, {"dog_c": "dog", "drums_a": "drums", "drums_b": "drums"})
    for s in samples:
        seg = s["json"]["meta"]["segment_seconds"]
        assert _frames(s["mp4"]) == round(seg * 8)  # the query video only
        assert load_audio(s["wav"], 16000).numel() == 2 * round(
            seg * 16000
        )  # both sounds, one after the other


@pytest.mark.integration
def test_matching_missing_partner_is_skipped_and_counted(tmp_path, media, put_file, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    put_file(src / "labels.csv", "clip,label\na,x\nb,y\n")
    put_file(src / "clips" / "a.mp4", media.mp4)  # b is missing: both samples need it
    assert main(["a2v", "--src", str(src), "--out", str(out), "--split", "all"]) == 1
    assert "no samples written for split 'all' (skipped rows: missing media: 2)" in capsys.readouterr().err
    with pytest.raises(NothingWritten) as info:
        convert("v2a", src, out, "all")
    assert info.value.reasons == {"missing media": 2}
    assert not list(out.rglob("index.json"))


@pytest.mark.unit
def test_matching_bad_rows_are_named(tmp_path, put_file):
    put_file(tmp_path / "labels.csv", "clip,label,split\na,x,train\nb,,train\n")
    with pytest.raises(AnnotationError, match=r"labels\.csv, line 3: missing field\(s\) \['label'\]"):
        list(read_a2v(tmp_path, "train"))
    put_file(tmp_path / "labels.csv", "clip,label\na,x\nb,x\n")
    with pytest.raises(AnnotationError, match=r"labels\.csv, line 1: no 'split' column"):
        list(read_v2a(tmp_path, "train"))
    with pytest.raises(AnnotationError, match=r"labels\.csv: v2a needs clips of two labels or more"):
        list(read_v2a(tmp_path, "all"))
    with pytest.raises(AnnotationError, match=r"test: neither labels\.csv nor"):
        list(read_a2v(tmp_path / "nothing", "test"))
