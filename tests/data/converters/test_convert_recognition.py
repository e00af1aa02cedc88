"""Recognition converters: Kinetics-Sounds (``ks``), UCF101, CREMA-D, MELD."""

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.cremad import cremad_split_of, read_cremad
from crabplus.data.converters.kinetics_sounds import read_kinetics_sounds
from crabplus.data.converters.meld import read_meld
from crabplus.data.converters.ucf101 import read_ucf101
from crabplus.data.decode import load_audio, load_video


@pytest.mark.integration
def test_kinetics_sounds_class_folders_and_csv(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    put_file(src / "train" / "playing drums" / "a1.mp4", media.mp4)
    put_file(src / "train" / "dog barking" / "b1.mp4", media.mp4)
    put_file(src / "train" / "dog barking" / "notes.txt", "ignored")
    assert main(["kinetics_sounds", "--src", str(src), "--out", str(out)]) == 0
    samples = read_shards(out, "ks", "train")
    assert [s["json"]["target"]["label"] for s in samples] == ["dog barking", "playing drums"]
    put_file(src / "val.csv", "label,youtube_id,time_start,time_end,split\nplaying drums,xyz,12,22,val\n")
    put_file(src / "val" / "playing drums" / "xyz_000012_000022.mp4", media.mp4)
    assert main(["kinetics_sounds", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    (s,) = read_shards(out, "ks", "val")
    assert s["__key__"] == "xyz_000012_000022" and s["json"]["target"] == {"label": "playing drums"}


@pytest.mark.unit
def test_kinetics_sounds_bad_row_names_line(tmp_path, put_file):
    put_file(tmp_path / "test.csv", "label,youtube_id,time_start,time_end\ndrums,a,1,11\ndrums,b,x,11\n")
    with pytest.raises(AnnotationError, match=r"test\.csv, line 3: field 'time_start' is not a number"):
        list(read_kinetics_sounds(tmp_path, "test"))


def _ucf_layout(root, put, trainlist: str, encode_legacy_video) -> None:
    lists = root / "ucfTrainTestlist"
    put(lists / "classInd.txt", "1 ApplyEyeMakeup\n2 Drumming\n")
    put(lists / "trainlist01.txt", trainlist)
    put(lists / "testlist01.txt", "Drumming/v_Drumming_g01_c01.avi\n")
    avi = encode_legacy_video("avi", "mpeg4", with_audio=True)
    for rel in ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "Drumming/v_Drumming_g01_c01.avi"):
        put(root / "UCF-101" / rel, avi)


@pytest.mark.integration
def test_ucf101_transcodes_avi(tmp_path, put_file, read_shards, legacy_video):
    src, out = tmp_path / "src", tmp_path / "out"
    _ucf_layout(src, put_file, "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n", legacy_video)
    for split in ("train", "test"):
        assert main(["ucf101", "--src", str(src), "--out", str(out), "--split", split]) == 0
    (s,) = read_shards(out, "ucf101", "train")
    assert s["__key__"] == "v_ApplyEyeMakeup_g08_c01" and s["json"]["target"] == {"label": "ApplyEyeMakeup"}
    assert load_video(s["mp4"], 4, 32).shape == (4, 3, 32, 32)  # H.264 mp4 now
    assert load_audio(s["mp4"], 16000).numel() > 8000
    (t,) = read_shards(out, "ucf101", "test")
    assert t["json"]["target"] == {"label": "Drumming"}


@pytest.mark.unit
def test_ucf101_wrong_class_index_names_line(tmp_path, put_file, legacy_video):
    rows = "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nDrumming/v_Drumming_g01_c01.avi 1\n"
    _ucf_layout(tmp_path, put_file, rows, legacy_video)
    with pytest.raises(AnnotationError, match=r"trainlist01\.txt, line 2: class index 1 is not 'Drumming'"):
        list(read_ucf101(tmp_path, "train"))


@pytest.mark.integration
def test_cremad_actor_split_and_flv(tmp_path, media, put_file, read_shards, legacy_video):
    src, out = tmp_path / "src", tmp_path / "out"
    flv = legacy_video("flv", "flv", with_audio=True)
    for name in ("1001_DFA_ANG_XX", "1010_IEO_HAP_HI", "1015_TIE_SAD_LO"):
        put_file(src / "AudioWAV" / f"{name}.wav", media.wav)
        put_file(src / "VideoFlash" / f"{name}.flv", flv)
    put_file(src / "VideoMP4" / "1001_DFA_ANG_XX.mp4", media.mp4)
    for split in ("train", "val", "test"):
        assert main(["cremad", "--src", str(src), "--out", str(out), "--split", split]) == 0
    (train,) = read_shards(out, "cremad", "train")
    assert train["json"]["target"] == {"label": "anger"} and train["mp4"] == media.mp4
    (test,) = read_shards(out, "cremad", "test")
    assert test["json"]["target"] == {"label": "happy"} and test["json"]["meta"]["actor"] == 1010
    assert load_video(test["mp4"], 2, 32).shape == (2, 3, 32, 32)
    (val,) = read_shards(out, "cremad", "val")
    assert val["json"]["target"] == {"label": "sad"}


@pytest.mark.unit
def test_cremad_bad_file_name_is_named(tmp_path, media, put_file):
    put_file(tmp_path / "AudioWAV" / "1001_DFA_XXX_XX.wav", media.wav)
    with pytest.raises(AnnotationError, match=r"1001_DFA_XXX_XX\.wav, file name: expected"):
        list(read_cremad(tmp_path, "all"))
    assert [cremad_split_of(a) for a in (1001, 1005, 1010, 1091)] == ["train", "val", "test", "train"]


MELD_HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
)


@pytest.mark.integration
def test_meld_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    rows = '1,"Oh, my God!",Rachel,surprise,positive,0,0,3,19,"00:14:38,622","00:14:40,666"\n'
    put_file(src / "dev_sent_emo.csv", MELD_HEADER + rows)
    put_file(src / "dev" / "dev_splits_complete" / "dia0_utt0.mp4", media.mp4)
    assert main(["meld", "--src", str(src), "--out", str(out), "--split", "val"]) == 0
    (s,) = read_shards(out, "meld", "val")
    assert s["__key__"] == "dia0_utt0" and s["json"]["target"] == {"label": "surprise"}
    assert s["json"]["meta"]["utterance"] == "Oh, my God!" and s["json"]["meta"]["speaker"] == "Rachel"


@pytest.mark.unit
def test_meld_bad_emotion_names_line(tmp_path, put_file):
    rows = "1,Hi,Joey,neutral,neutral,0,0,1,1,a,b\n2,Yo,Joey,bored,neutral,0,1,1,1,a,b\n"
    put_file(tmp_path / "train_sent_emo.csv", MELD_HEADER + rows)
    with pytest.raises(AnnotationError, match=r"train_sent_emo\.csv, line 3: field 'Emotion' must be one of"):
        list(read_meld(tmp_path, "train"))
