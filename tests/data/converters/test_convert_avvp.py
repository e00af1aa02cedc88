"""AVVP (LLP) converter on rows of the official AVVP-ECCV20 csvs (fixtures/avvp).

Quirks kept from the real files: val has a reversed row (``8DF2PxdT5tE_390_400  9  0  Cheering``) and a
video whose two audio rows are each repeated verbatim (39KgkK23Zmk_0_10); test has zero-length rows
(``9  9  Speech``, ``1  1  Dog``); the eval csvs hold a video of no split (CSWQ_HzQ_10_20). Media are named
like the official download script: the first 11 characters of ``filename``.
"""

import csv
import json

import pytest

from crabplus.data.converters import main
from crabplus.data.converters.avvp import read_avvp
from crabplus.data.sample import BadSample, MediaSpec, decode_sample
from crabplus.tasks import get as get_task


def _rows(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _expected_dense(src, split_file) -> dict[str, dict]:
    """Independent reading: per video of the split, its eval events without empty/reversed/repeated rows."""
    names = [r["filename"] for r in _rows(src / split_file)]
    out = {}
    for name in names:
        target = {"duration": 10.0}
        for modality in ("audio", "visual"):
            events = []
            for r in _rows(src / f"AVVP_eval_{modality}.csv"):
                ev = [r["event_labels"], float(r["onset"]), float(r["offset"])]
                if r["filename"] == name and ev[1] < ev[2] and ev not in events:
                    events.append(ev)
            target[modality] = sorted(events, key=lambda e: (e[1], e[0], e[2]))
        out[name] = target
    return out


def _convert(tmp_path, official, put_file, media, split, short_names=True):
    src, out = official("avvp", tmp_path / "src"), tmp_path / "out"
    file = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}[split]
    for r in _rows(src / file):
        name = r["filename"][:11] if short_names else r["filename"]
        put_file(src / "LLP_dataset" / "video" / f"{name}.mp4", media.mp4)
    return src, out, main(["avvp", "--src", str(src), "--out", str(out), "--split", split])


@pytest.mark.integration
def test_avvp_val_dense_events_with_quirks_skipped(tmp_path, official, put_file, media, read_shards, skipped):
    src, out, code = _convert(tmp_path, official, put_file, media, "val")
    assert code == 0
    samples = read_shards(out, "avvp", "val")
    assert {s["__key__"]: s["json"]["target"] for s in samples} == _expected_dense(src, "AVVP_val_pd.csv")
    assert all(s["mp4"] == media.mp4 for s in samples)  # found as <first 11 chars>.mp4
    rows = skipped(out, "avvp", "val")
    reasons = [(r["file"].rsplit("/", 1)[1], r["line"], r["reason"]) for r in rows]
    assert reasons == [
        ("AVVP_eval_audio.csv", "line 24", "span reversed or outside the clip"),
        ("AVVP_eval_audio.csv", "line 29", "duplicate row"),
        ("AVVP_eval_audio.csv", "line 30", "duplicate row"),
    ]
    assert not (out / "avvp_weak").exists()


@pytest.mark.integration
def test_avvp_test_zero_length_rows_and_full_names(tmp_path, official, put_file, media, read_shards, skipped):
    src, out, code = _convert(tmp_path, official, put_file, media, "test", short_names=False)
    assert code == 0
    samples = read_shards(out, "avvp", "test")
    assert {s["__key__"]: s["json"]["target"] for s in samples} == _expected_dense(src, "AVVP_test_pd.csv")
    assert [(r["line"], r["reason"]) for r in skipped(out, "avvp", "test")] == [
        ("line 8", "zero-length span"),
        ("line 13", "zero-length span"),
    ]


@pytest.mark.integration
def test_avvp_weak_train_labels_are_their_own_task(tmp_path, official, put_file, media, read_shards):
    src, out, code = _convert(tmp_path, official, put_file, media, "train")
    assert code == 0
    assert not (out / "avvp" / "train").exists()  # never presented as dense events
    samples = read_shards(out, "avvp_weak", "train")
    expected = {
        r["filename"]: {"labels": sorted(set(r["event_labels"].split(",")))}
        for r in _rows(src / "AVVP_train.csv")
    }
    assert {s["__key__"]: s["json"]["target"] for s in samples} == expected
    assert {s["json"]["task"] for s in samples} == {"avvp_weak"}
    # --tasks avvp leaves the weak labels out: nothing to write for train
    assert main(["avvp", "--src", str(src), "--out", str(tmp_path / "o2"), "--tasks", "avvp"]) == 1


@pytest.mark.integration
def test_weak_samples_are_never_scored_or_trained_as_dense(tmp_path, official, put_file, media, read_shards):
    """The dense stream refuses a weak sample (json task differs), the dense task cannot format its target,
    and the weak task's prompt, answer and metric carry no modality and no spans."""
    _src, out, _ = _convert(tmp_path, official, put_file, media, "train")
    raw = next(iter(_raw_samples(out)))
    dense, weak = get_task("avvp"), get_task("avvp_weak")
    with pytest.raises(BadSample, match="json task 'avvp_weak' is not this stream's task 'avvp'"):
        decode_sample(raw, "avvp", (), MediaSpec(decode=False), get_task)
    sample = decode_sample(raw, "avvp_weak", (), MediaSpec(decode=False), get_task)
    assert sample["answer"] == "<answer><event>Dog</event><event>Speech</event></answer>"
    assert "<span>" not in sample["answer"] and "_events>" not in sample["answer"]
    with pytest.raises(KeyError):
        dense.format_target(sample["target"])
    metric = weak.make_metric()
    metric.update([{"labels": ["Speech"]}], [sample["target"]])
    assert metric.compute() == {"f1": pytest.approx(2 * 1 / (1 + 2)), "exact": 0.0}
    assert set(weak.higher_is_better).isdisjoint(dense.higher_is_better)


def _raw_samples(out):
    from crabplus.data.shards import iter_shard, shard_paths

    for shard in shard_paths(out, "avvp_weak", "train"):
        yield from iter_shard(shard)


@pytest.mark.unit
def test_avvp_eval_rows_of_other_videos_are_ignored(tmp_path, official):
    src = official("avvp", tmp_path / "src")
    items = list(read_avvp(src, "test"))
    assert not any("CSWQ_HzQ" in json.dumps(getattr(i, "target", {})) for i in items)
    assert not any("CSWQ_HzQ" in getattr(i, "detail", "") for i in items)
