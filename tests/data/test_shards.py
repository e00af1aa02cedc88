"""Shard writer/reader: layout, index.json, byte-identical rewrites, webdataset interop, errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from crabplus.data.shards import ShardWriter, iter_shard, read_index, shard_paths

pytestmark = pytest.mark.unit


def _write(root, n=7, maxcount=3):
    with ShardWriter(root, "t", "train", maxcount=maxcount, version="v9") as w:
        for i in range(n):
            w.write(
                f"s{i:03d}", {"q": i}, {"label": str(i)}, {"mp4": bytes([i]) * (i + 1)}, reasoning=f"r{i}"
            )


def test_layout_index_and_roundtrip(tmp_path):
    _write(tmp_path)
    index = read_index(tmp_path, "t", "train")
    assert index == {
        "task": "t",
        "split": "train",
        "num_samples": 7,
        "version": "v9",
        "shards": ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"],
        "counts": [3, 3, 1],
        "media": ["mp4"],
    }
    raws = [r for p in shard_paths(tmp_path, "t", "train") for r in iter_shard(p)]
    assert [r["__key__"] for r in raws] == [f"s{i:03d}" for i in range(7)]
    for i, r in enumerate(raws):
        assert r["mp4"] == bytes([i]) * (i + 1)
        assert json.loads(r["json"]) == {
            "task": "t",
            "meta": {"q": i},
            "target": {"label": str(i)},
            "reasoning": f"r{i}",
        }


def test_rewrite_is_byte_identical(tmp_path):
    _write(tmp_path / "a")
    _write(tmp_path / "b")
    for name in ["shard-000000.tar", "shard-000002.tar", "index.json"]:
        assert (tmp_path / "a/t/train" / name).read_bytes() == (tmp_path / "b/t/train" / name).read_bytes()


def test_webdataset_reads_our_shards(tmp_path):
    _write(tmp_path)
    urls = [str(p) for p in shard_paths(tmp_path, "t", "train")]
    got = [(s["__key__"], s["mp4"]) for s in wds.WebDataset(urls, shardshuffle=False)]
    assert got == [(f"s{i:03d}", bytes([i]) * (i + 1)) for i in range(7)]


def test_mask_in_target_goes_to_png(tmp_path):
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:7] = True
    with ShardWriter(tmp_path, "seg", "val") as w:
        w.write("k", {}, {"label": "x", "mask": mask}, {"png": b"p"})
    (raw,) = list(iter_shard(shard_paths(tmp_path, "seg", "val")[0]))
    assert json.loads(raw["json"])["target"] == {"label": "x"}
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(raw["mask.png"]))) > 0, mask)
    assert read_index(tmp_path, "seg", "val")["media"] == ["mask.png", "png"]


def test_writer_rejects_bad_keys_and_media(tmp_path):
    with ShardWriter(tmp_path, "t", "train") as w:
        with pytest.raises(ValueError, match="'.'"):
            w.write("a.b", {}, {}, {})
        w.write("a", {}, {}, {})
        with pytest.raises(ValueError, match="duplicate"):
            w.write("a", {}, {}, {})
        with pytest.raises(ValueError, match="media key 'avi'"):
            w.write("b", {}, {}, {"avi": b""})


def test_missing_index_names_path_and_found_tasks(tmp_path):
    _write(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'nope'.*tasks with split 'train'.*: t"):
        read_index(tmp_path, "nope", "train")


def test_truncated_shard_keeps_complete_samples(tmp_path):
    _write(tmp_path, n=3, maxcount=3)
    path = shard_paths(tmp_path, "t", "train")[0]
    data = path.read_bytes()
    path.write_bytes(data[: 512 * 7])  # header+data of sample 0 (2 members) and part of sample 1
    with pytest.warns(UserWarning, match="shard .*shard-000000.tar: unreadable"):
        raws = list(iter_shard(path))
    assert [r["__key__"] for r in raws] == ["s000"]
