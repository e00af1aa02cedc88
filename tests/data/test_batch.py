"""Every loader yields batches that fit ``crabplus.data.Batch`` key for key (the contract train/ reads)."""

from __future__ import annotations

import typing

import pytest
import torch

from crabplus.config_blocks import check_value
from crabplus.data import MEDIA_KEYS, Batch, MultiTaskDataModule, encoded_media
from crabplus.data.sample import MediaSpec

pytestmark = pytest.mark.integration

TASKS = ["synth_cls", "synth_seg", "synth_qa"]
HINTS = typing.get_type_hints(Batch)


def check_batch(batch: dict, size: int) -> None:
    assert set(batch) <= set(HINTS), f"keys outside the Batch contract: {set(batch) - set(HINTS)}"
    for key, value in batch.items():
        check_value(value, HINTS[key], f"batch.{key}")
        if isinstance(value, torch.Tensor):
            assert value.shape[0] == size, key
        elif isinstance(value, list):
            assert len(value) == size, key


def test_train_and_eval_batches_fit_the_contract(synth_root):
    spec = MediaSpec(num_frames=2, frame_size=16, n_mels=16)
    dm = MultiTaskDataModule(str(synth_root), TASKS, batch_size=3, num_workers=0, media=spec)
    train = next(iter(dm.train_dataloader()))
    check_batch(train, 3)
    assert {"batch_index", "stream_state", "skipped"} <= set(train)
    assert train["batch_index"] == 0
    media = [k for k in MEDIA_KEYS if k in train]
    assert media and set(encoded_media(train)) == set(media) - {"waveform", "mask"}
    for name, loader in zip(dm.val_task_names, dm.val_dataloader()):
        batch = next(iter(loader))
        check_batch(batch, 3)
        assert batch["task"] == [name] * 3 and "batch_index" not in batch
        if name == "synth_seg":
            assert batch["mask"].dtype == torch.bool and batch["mask"].shape == (3, 16, 16)
            assert batch["image"].shape == (3, 3, 16, 16)


def test_pixels_cross_the_worker_boundary_as_bytes(synth_root):
    """Frames and images leave the workers as uint8 (a quarter of float32's bytes through shared memory),
    holding the decoder's own values; the model scales them on its device (tests/model/test_tower_inputs.py)."""
    from crabplus.data.decode import load_image, load_video
    from crabplus.data.shards import iter_shard, shard_paths

    spec = MediaSpec(num_frames=2, frame_size=16, n_mels=16)
    dm = MultiTaskDataModule(str(synth_root), TASKS, batch_size=3, num_workers=1, media=spec)
    for name, loader in zip(dm.val_task_names, dm.val_dataloader()):
        batch = next(iter(loader))
        raw = next(iter_shard(shard_paths(str(synth_root), name, "val")[0]))
        if "video" in batch:
            assert batch["video"].dtype == torch.uint8
            assert torch.equal(batch["video"][0], load_video(raw["mp4"], 2, 16, uint8_resize=True))
        if "image" in batch:
            assert batch["image"].dtype == torch.uint8
            assert torch.equal(batch["image"][0], load_image(raw["png"], 16))
