"""The conversion runner: atomic output (a failed run leaves nothing that looks valid), ``--workers N`` writes
the same shards as one worker, unreadable media are skipped and counted."""

import pytest

import crabplus.data.converters._run as run
from crabplus.data.converters import main

ROWS = "".join(f"Dog&vid{i}&good&{i % 5}&{i % 5 + 3}\n" for i in range(7))


def _src(tmp_path, put_file, media):
    src = tmp_path / "src"
    put_file(src / "trainSet.txt", ROWS)
    for i in range(7):
        put_file(src / "AVE" / f"vid{i}.mp4", media.mp4)
    return src


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.integration
def test_failed_run_leaves_no_index_and_no_staging(tmp_path, put_file, media, monkeypatch):
    src, out = _src(tmp_path, put_file, media), tmp_path / "out"
    calls = []

    def failing(sample):
        calls.append(sample.key)
        if len(calls) == 4:
            raise RuntimeError("disk full")
        return {"mp4": media.mp4}

    monkeypatch.setattr(run, "sample_media", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        run.convert("ave", src, out, "train", maxcount=2)
    assert len(calls) == 4  # shards of three samples had been written, then the run failed
    assert list(out.rglob("*.json")) == [] and list(out.rglob("*.tar")) == []
    assert [p.name for p in out.iterdir()] == []  # the staging folder is gone too


@pytest.mark.integration
def test_failed_rerun_keeps_the_earlier_conversion(tmp_path, put_file, media, read_shards):
    src, out = _src(tmp_path, put_file, media), tmp_path / "out"
    assert main(["ave", "--src", str(src), "--out", str(out), "--maxcount", "2"]) == 0
    before = _tree(out)
    put_file(src / "trainSet.txt", ROWS + "Dog&vid9&good&3\n")  # a malformed row at the end
    assert main(["ave", "--src", str(src), "--out", str(out), "--maxcount", "2"]) == 1
    assert _tree(out) == before and len(read_shards(out, "ave", "train")) == 7


@pytest.mark.integration
def test_workers_write_the_same_shards_as_one(tmp_path, put_file, media):
    src = _src(tmp_path, put_file, media)
    args = ["ave", "--src", str(src), "--maxcount", "3"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert sorted(one) == [
        "ave/train/index.json",
        "ave/train/shard-000000.tar",
        "ave/train/shard-000001.tar",
        "ave/train/shard-000002.tar",
        "ave/train/skipped.jsonl",
    ]
    assert one == two


@pytest.mark.integration
def test_unreadable_media_is_skipped_and_counted(tmp_path, put_file, media, read_shards, skipped, capsys):
    """A clip that cannot be transcoded (a broken .avi) is a skip of its own, not a failed run."""
    src, out = tmp_path / "src", tmp_path / "out"
    put_file(
        src / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_1.csv",
        "video_name,label\n1,1\n2,2\n3,3\n",
    )
    put_file(src / "Clip" / "original" / "00001.mp4", media.mp4)
    put_file(src / "Clip" / "original" / "00002.avi", b"RIFF not really an avi")
    assert main(["dfew", "--src", str(src), "--out", str(out)]) == 0
    assert [s["__key__"] for s in read_shards(out, "dfew", "train")] == ["00001"]
    rows = skipped(out, "dfew", "train")
    assert [(r["line"], r["reason"]) for r in rows] == [
        ("line 4", "missing media"),
        ("line 3", "unreadable media"),
    ]
    assert "00002.avi" in rows[1]["detail"] or "00002" in rows[1]["detail"]
    assert "skipped 2 rows (missing media: 1, unreadable media: 1)" in capsys.readouterr().out


@pytest.mark.integration
def test_progress_bar_counts_the_samples(tmp_path, put_file, media, capsys):
    src = _src(tmp_path, put_file, media)
    run.convert("ave", src, tmp_path / "out", "train", progress=True)
    err = capsys.readouterr().err
    assert "converting train" in err and "7/7" in err


@pytest.mark.integration
def test_broken_files_copied_as_they_are_are_caught_at_conversion(
    tmp_path, put_file, media, read_shards, skipped
):
    """An .mp4 needs no transcoding, so it used to be copied unread: a garbage or truncated download became a
    shard member that every epoch skipped again. Its first frame is decoded now, and it is skipped here."""
    src, out = _src(tmp_path, put_file, media), tmp_path / "out"
    put_file(src / "AVE" / "vid2.mp4", b"\x00\x00\x00\x18ftypmp42 but nothing else")
    put_file(src / "AVE" / "vid4.mp4", media.mp4[: len(media.mp4) // 2])  # cut mid-file (no index box)
    assert main(["ave", "--src", str(src), "--out", str(out)]) == 0
    written = [s["__key__"] for s in read_shards(out, "ave", "train")]
    assert len(written) == 5 and not any("vid2" in k or "vid4" in k for k in written)
    rows = skipped(out, "ave", "train")
    assert sorted((r["line"], r["reason"]) for r in rows) == [
        ("line 3", "unreadable media"),
        ("line 5", "unreadable media"),
    ]
    assert (
        "vid2.mp4" in rows[0]["detail"] + rows[1]["detail"]
        and "vid4.mp4" in rows[0]["detail"] + rows[1]["detail"]
    )
