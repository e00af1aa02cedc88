"""Bad input: each case decodes correctly or is skipped with a warning naming shard and key; skips are
counted per task across workers, and a stream with too many skips stops the run."""

from __future__ import annotations

import io
import json
import tarfile
import warnings

import numpy as np
import pytest
import torch

from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.encode import encode_mask_png, encode_mp4, encode_png, encode_wav
from crabplus.data.loaders import SkipLimitError
from crabplus.data.sample import MediaSpec

pytestmark = pytest.mark.integration

SPEC = MediaSpec(num_frames=2, frame_size=16, n_mels=16, clip_seconds=1.0, waveform=True)
FRAMES = np.full((4, 32, 32, 3), 90, np.uint8)
TONE = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)


def _json(task: str, i: int) -> bytes:
    return json.dumps({"task": task, "meta": {"i": i}, "target": {"label": "x"}, "reasoning": None}).encode()


def _write_raw(
    root, task: str, samples: list[tuple[str, dict]], media: list[str], split: str = "val"
) -> None:
    """A shard written member by member, so broken members can be stored as they are."""
    folder = root / task / split
    folder.mkdir(parents=True)
    with tarfile.open(folder / "shard-000000.tar", "w") as tar:
        for key, files in samples:
            for ext, data in files.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    index = {
        "task": task,
        "split": split,
        "num_samples": len(samples),
        "version": "t",
        "shards": ["shard-000000.tar"],
        "counts": [len(samples)],
        "media": media,
    }
    (folder / "index.json").write_text(json.dumps(index))


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    mp4 = encode_mp4(FRAMES, 4, TONE, 16000)
    av = "toy_av"
    _write_raw(
        root,
        av,
        [
            ("good0", {"mp4": mp4, "json": _json(av, 0)}),
            ("truncated", {"mp4": mp4[: len(mp4) // 2], "json": _json(av, 1)}),
            ("zerobyte", {"mp4": b"", "json": _json(av, 2)}),
            ("noaudio", {"mp4": encode_mp4(FRAMES, 4, None), "json": _json(av, 3)}),
            (
                "stereo22k",
                {
                    "mp4": encode_mp4(
                        FRAMES,
                        4,
                        np.interp(np.arange(22050) / 22050, np.arange(16000) / 16000, TONE),
                        22050,
                        channels=2,
                    ),
                    "json": _json(av, 4),
                },
            ),
            ("badjson", {"mp4": mp4, "json": b"{not json"}),
            ("wrongtask", {"mp4": mp4, "json": _json("toy_other", 6)}),
            ("good7", {"mp4": mp4, "json": _json(av, 7)}),
        ],
        ["mp4"],
    )
    seg, img = "toy_seg", encode_png(np.full((32, 32, 3), 50, np.uint8))
    mask = np.zeros((32, 32), bool)
    mask[8:24, 4:12] = True
    _write_raw(
        root,
        seg,
        [
            (
                "good",
                {
                    "png": img,
                    "wav": encode_wav(TONE, 16000),
                    "mask.png": encode_mask_png(mask),
                    "json": _json(seg, 0),
                },
            ),
            (
                "wav44k",
                {
                    "png": img,
                    "wav": encode_wav(
                        np.stack(
                            [np.interp(np.arange(44100) / 44100, np.arange(16000) / 16000, TONE)] * 2, 1
                        ),
                        44100,
                    ),
                    "mask.png": encode_mask_png(mask),
                    "json": _json(seg, 1),
                },
            ),
            ("nomask", {"png": img, "wav": encode_wav(TONE, 16000), "json": _json(seg, 2)}),
        ],
        ["mask.png", "png", "wav"],
    )
    return root


def _dm(root, tasks, lookup, **kw):
    return MultiTaskDataModule(str(root), tasks, batch_size=8, media=SPEC, task_lookup=lookup, **kw)


def test_each_bad_case_is_skipped_with_shard_and_key_or_decodes(bad_root, task_lookup):
    dm = _dm(bad_root, ["toy_av", "toy_seg"], task_lookup, num_workers=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = {name: [b for b in loader] for name, loader in zip(dm.val_task_names, dm.val_dataloader())}
    for b in [b for bs in batches.values() for b in bs]:
        dm.observe(b)
    av_keys = [k.rsplit(":", 1)[1] for b in batches["toy_av"] for k in b["key"]]
    assert av_keys == ["good0", "stereo22k", "good7"]
    seg_keys = [k.rsplit(":", 1)[1] for b in batches["toy_seg"] for k in b["key"]]
    assert seg_keys == ["good", "wav44k"]
    messages = [str(w.message) for w in caught if "skipping sample" in str(w.message)]
    for key, reason in [
        ("truncated", "undecodable"),
        ("zerobyte", "0 bytes"),
        ("noaudio", "no audio stream"),
        ("badjson", "malformed json"),
        ("wrongtask", "toy_other"),
        ("nomask", "missing mask.png"),
    ]:
        hit = [m for m in messages if f"key {key!r}" in m]
        assert len(hit) == 1 and "shard-000000.tar" in hit[0] and reason in hit[0], (key, messages)
    assert dm.skip_counts() == {"toy_av": 5, "toy_seg": 1}
    # another rate / channel count decodes to the same signal as the good sample
    av = batches["toy_av"][0]
    assert av["waveform"].shape == (3, 16000)
    good, resampled = av["waveform"][0, 2000:14000].numpy(), av["waveform"][1, 2000:14000].numpy()
    assert np.corrcoef(good, resampled)[0, 1] > 0.95 and abs(good.std() - resampled.std()) < 0.03
    seg = batches["toy_seg"][0]
    torch.testing.assert_close(
        seg["waveform"][1, 100:15000], seg["waveform"][0, 100:15000], atol=0.02, rtol=0
    )
    assert seg["mask"].shape == (2, 16, 16) and seg["mask"][0].sum() == 8 * 4
    assert torch.equal(seg["target"][1]["mask"], seg["mask"][1])


def test_skip_counts_add_up_across_two_workers(bad_root, task_lookup):
    dm = _dm(
        bad_root,
        ["toy_av"],
        task_lookup,
        num_workers=2,
        max_skip_share=1.0,
        shuffle_buffer=2,
        train_split="val",
    )
    dm.batch_size = 1
    used = 0
    for i, batch in enumerate(dm.train_dataloader()):
        dm.observe(batch)
        used += len(batch["key"])
        if i == 11:
            break
    raw_read = sum(sum(p.values()) for p in dm.state_dict()["positions"].values())
    assert dm.skip_counts()["toy_av"] == raw_read - used > 0


def test_too_many_skips_stop_the_run(bad_root, task_lookup):
    dm = _dm(
        bad_root,
        ["toy_av"],
        task_lookup,
        num_workers=2,
        max_skip_share=0.3,
        skip_min_samples=6,
        train_split="val",
    )
    with pytest.raises(
        SkipLimitError, match=r"task 'toy_av': \d+ of \d+ samples skipped .*max_skip_share=30%"
    ):
        for _ in dm.train_dataloader():
            pass
