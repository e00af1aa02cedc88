"""Recognition converters on rows of the official files (fixtures/<dataset>):

* UCF101: ``ucfTrainTestlist`` rows as published (CRLF; ``HandstandPushups/v_HandStandPushups_...`` whose
  file name and class folder differ in case); a listed clip that is not on disk is skipped.
* Kinetics-Sounds: Kinetics csv rows (``validate.csv``, quoted labels with spaces, ``is_cc`` column).
* CREMA-D: clip names of the official ``AudioWAV/`` folder, with the four clips its README flags.
* MELD: rows of ``dev_sent_emo.csv`` (CRLF, quoted utterances with commas and curly quotes) and
  ``test_sent_emo.csv``; dia110_utt7 has no clip here.
"""

import csv

import pytest

from crabplus.data.converters import main
from crabplus.data.converters.cremad import cremad_split_of
from crabplus.data.decode import load_video


def _lines(path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.integration
def test_ucf101_official_lists(tmp_path, official, put_file, read_shards, skipped, legacy_video):
    src, out = official("ucf101", tmp_path / "src"), tmp_path / "out"
    lists = src / "ucfTrainTestlist"
    avi = legacy_video("avi", "mpeg4", with_audio=False)
    for name in ("trainlist01.txt", "testlist01.txt"):
        for line in _lines(lists / name):
            if "YoYo" not in line:  # the YoYo clip was not downloaded
                put_file(src / "UCF-101" / line.split()[0], avi)
    for split, name in (("train", "trainlist01.txt"), ("test", "testlist01.txt")):
        assert main(["ucf101", "--src", str(src), "--out", str(out), "--split", split]) == 0
        expected = {
            line.split()[0].split("/")[1][: -len(".avi")]: {"label": line.split("/")[0]}
            for line in _lines(lists / name)
            if "YoYo" not in line
        }
        samples = read_shards(out, "ucf101", split)
        assert {s["__key__"]: s["json"]["target"] for s in samples} == expected
    assert load_video(samples[0]["mp4"], 2, 32).shape == (2, 3, 32, 32)  # transcoded to H.264
    assert [(r["line"], r["reason"]) for r in skipped(out, "ucf101", "train")] == [
        ("line 4", "missing media")
    ]
    assert skipped(out, "ucf101", "test") == []


@pytest.mark.integration
def test_kinetics_sounds_kinetics_csv(tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("kinetics_sounds", tmp_path / "src"), tmp_path / "out"
    with (src / "validate.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    clip = "{}_{:06d}_{:06d}"
    # one clip in the downloader's "<label>/" folder (spaces kept), the other one gone from YouTube
    first = rows[1]
    put_file(src / "val" / first["label"] / f"{clip.format(first['youtube_id'], 40, 50)}.mp4", media.mp4)
    assert main(["kinetics_sounds", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    (s,) = read_shards(out, "ks", "val")
    assert (s["__key__"], s["json"]["target"]) == ("_dbcJuKJQNs_000040_000050", {"label": "air drumming"})
    assert s["mp4"] == media.mp4
    assert [(r["line"], r["reason"]) for r in skipped(out, "ks", "val")] == [("line 2", "missing media")]


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_cremad_official_names_and_flagged_clips(
    split, tmp_path, official, put_file, media, read_shards, skipped, legacy_video
):
    src, out = official("cremad", tmp_path / "src"), tmp_path / "out"
    names = _lines(src / "AudioWAV.txt")
    for name in names:
        put_file(src / "AudioWAV" / f"{name}.wav", media.wav)
        if name == "1091_IWW_FEA_XX":
            put_file(src / "VideoFlash" / f"{name}.flv", legacy_video("flv", "flv", with_audio=True))
        else:
            put_file(src / "VideoMP4" / f"{name}.mp4", media.mp4)
    emotions = {
        "ANG": "anger",
        "DIS": "disgust",
        "FEA": "fear",
        "HAP": "happy",
        "NEU": "neutral",
        "SAD": "sad",
    }
    flagged = {"1064_IEO_DIS_MD", "1064_TIE_SAD_XX", "1076_MTI_SAD_XX"}
    in_split = [n for n in names if cremad_split_of(int(n[:4])) == split]
    assert main(["cremad", "--src", str(src), "--out", str(out), "--split", split]) == 0
    samples = read_shards(out, "cremad", split)
    expected = {n: {"label": emotions[n.split("_")[2]]} for n in in_split if n not in flagged}
    assert {s["__key__"]: s["json"]["target"] for s in samples} == expected
    rows = skipped(out, "cremad", split)
    assert sorted(r["file"].rsplit("/", 1)[1] for r in rows) == sorted(
        f"{n}.wav" for n in in_split if n in flagged
    )
    assert {r["reason"] for r in rows} <= {"clip flagged in the dataset README"}


@pytest.mark.integration
def test_meld_dev_and_test_rows(tmp_path, official, put_file, media, read_shards, skipped):
    src, out = official("meld", tmp_path / "src"), tmp_path / "out"
    for split, name, folder in (
        ("val", "dev_sent_emo.csv", "dev_splits_complete"),
        ("test", "test_sent_emo.csv", "output_repeated_splits_test"),
    ):
        with (src / name).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for r in rows:
            clip = f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}"
            if clip != "dia110_utt7":
                put_file(src / folder / f"{clip}.mp4", media.mp4)
        assert main(["meld", "--src", str(src), "--out", str(out), "--split", split]) == 0
        samples = read_shards(out, "meld", split)
        expected = {
            f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}": ({"label": r["Emotion"]}, r["Utterance"])
            for r in rows
            if (r["Dialogue_ID"], r["Utterance_ID"]) != ("110", "7")
        }
        assert {
            s["__key__"]: (s["json"]["target"], s["json"]["meta"]["utterance"]) for s in samples
        } == expected
    assert [(r["line"], r["reason"]) for r in skipped(out, "meld", "val")] == [("line 5", "missing media")]
    first = read_shards(out, "meld", "val")[0]["json"]["meta"]["utterance"]
    assert first == "Oh my God, he\u2019s lost it. He\u2019s totally lost it."
