"""Exact resume: after save/load of the DataModule state the next batches equal the uninterrupted stream."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.sample import MediaSpec

SMALL = MediaSpec(num_frames=2, frame_size=16, n_mels=16, clip_seconds=1.0, waveform=True)


def _take(dm, n):
    """First ``n`` batches, re-iterating the loader at epoch ends as Lightning does."""
    out, loader = [], dm.train_dataloader()
    while len(out) < n:
        for batch in loader:
            dm.observe(batch)  # what Lightning's on_before_batch_transfer does for a consumed batch
            out.append(batch)
            if len(out) == n:
                break
    return out


def _same(a: dict, b: dict) -> None:
    assert a["batch_index"] == b["batch_index"] and a["key"] == b["key"] and a["answer"] == b["answer"]
    for k in ("video", "audio", "waveform", "image", "mask", "task_id"):
        assert (k in a) == (k in b)
        if k in a:
            assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
@pytest.mark.integration
def test_resume_continues_the_same_sequence(synth_root, task_lookup):
    def make():
        return MultiTaskDataModule(
            str(synth_root),
            ["synth_cls", "synth_seg", "synth_qa", "synth_ground"],
            batch_size=2,
            num_workers=2,
            seed=3,
            shuffle_buffer=3,
            media=SMALL,
            task_lookup=task_lookup,
        )

    full = _take(make(), 11)
    first = make()
    _take(first, 6)  # consumed 6 (the workers prefetched more; that must not matter)
    state = first.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = _take(resumed, 5)
    for a, b in zip(full[6:], rest):
        _same(a, b)


@pytest.mark.integration
def test_resume_across_epochs_and_wrong_workers(toy_root, task_lookup):
    def make(nw=2):
        return MultiTaskDataModule(
            str(toy_root),
            ["toy_a", "toy_b", "toy_c"],
            batch_size=3,
            num_workers=nw,
            seed=5,
            num_batches=4,
            media=MediaSpec(decode=False),
            task_lookup=task_lookup,
        )

    dm = make()
    epochs = [[b["batch_index"] for b in _epoch(dm)] for _ in range(3)]
    assert epochs == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    ref = make()
    ref_batches = [b for _ in range(3) for b in _epoch(ref)]
    part = make()
    _take(part, 5)  # stops mid-epoch 2
    again = make()
    again.load_state_dict(part.state_dict())
    tail = list(_epoch(again)) + list(_epoch(again))
    assert [b["batch_index"] for b in tail] == [5, 6, 7, 8, 9, 10, 11]
    assert [b["key"] for b in tail] == [b["key"] for b in ref_batches[5:]]
    other = make(nw=1)
    other.load_state_dict(part.state_dict())
    with pytest.raises(ValueError, match="stream_slots=2"):
        other.train_dataloader()


@pytest.mark.integration
def test_pinned_stream_slots_make_batches_independent_of_workers(toy_root, task_lookup):
    """With data.stream_slots pinned, 0, 1 and 2 workers give the same batches, and a run resumes exactly
    with another worker count (before, the task streams were split by the worker count)."""

    def make(nw):
        return MultiTaskDataModule(str(toy_root), ["toy_a", "toy_b", "toy_c"], batch_size=3, num_workers=nw,
                                   seed=5, num_batches=4, media=MediaSpec(decode=False), task_lookup=task_lookup,
                                   stream_slots=2)  # fmt: skip

    def two_epochs(dm):
        return [b["key"] for _ in range(2) for b in _epoch(dm)]

    keys = {nw: two_epochs(make(nw)) for nw in (0, 1, 2)}
    assert keys[0] == keys[1] == keys[2]
    assert len(keys[0]) == 8
    part = make(2)
    _take(part, 3)
    again = make(1)
    again.load_state_dict(part.state_dict())
    tail = list(_epoch(again)) + list(_epoch(again))
    assert [b["key"] for b in tail] == keys[0][3:]
    odd = make(3)
    with pytest.raises(ValueError, match="num_workers=3 must divide data.stream_slots=2"):
        list(_epoch(odd))


def _epoch(dm):
    loader = dm._train_loader if getattr(dm, "_train_loader", None) else dm.train_dataloader()
    dm._train_loader = loader
    for batch in loader:
        dm.observe(batch)
        yield batch


class _Recorder(L.LightningModule):
    """Records the keys of every training batch; one parameter so the optimizer has work."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.keys: list[list[str]] = []

    def training_step(self, batch, batch_idx):
        self.keys.append(list(batch["key"]))
        return (self.w**2).sum() + 0 * self.w.sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.slow
@pytest.mark.integration
def test_lightning_checkpoint_resume(toy_root, task_lookup, tmp_path):
    def make():
        return MultiTaskDataModule(
            str(toy_root),
            ["toy_a", "toy_c"],
            batch_size=2,
            num_workers=1,
            seed=2,
            media=MediaSpec(decode=False),
            task_lookup=task_lookup,
        )

    kw = dict(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    full = _Recorder()
    L.Trainer(max_steps=8, enable_checkpointing=False, **kw).fit(full, datamodule=make())
    first = _Recorder()
    trainer = L.Trainer(max_steps=5, default_root_dir=tmp_path, enable_checkpointing=False, **kw)
    trainer.fit(first, datamodule=make())
    trainer.save_checkpoint(tmp_path / "mid.ckpt")
    second = _Recorder()
    L.Trainer(max_steps=8, enable_checkpointing=False, **kw).fit(
        second, datamodule=make(), ckpt_path=tmp_path / "mid.ckpt"
    )
    assert first.keys == full.keys[:5]
    assert second.keys == full.keys[5:8]


@pytest.mark.integration
def test_eval_batches_do_not_depend_on_workers(tmp_path, task_lookup):
    """The same evaluation batches, in the same order, with 0, 1, 2 or 3 workers (before, each worker took
    every nw-th sample, so batch contents and a limit_val_batches prefix changed with num_workers)."""
    from tests.data.conftest import write_toy

    write_toy(tmp_path, "toy_a", 8, {"mp4": b"x"})
    write_toy(tmp_path, "toy_a", 23, {"mp4": b"x"}, maxcount=4, split="val")

    def batches(nw):
        dm = MultiTaskDataModule(str(tmp_path), ["toy_a"], batch_size=5, num_workers=nw,
                                 media=MediaSpec(decode=False), task_lookup=task_lookup, val_split="val")  # fmt: skip
        (loader,) = dm.val_dataloader()
        return [[k.rsplit(":", 1)[1] for k in b["key"]] for b in loader]

    expected = [[f"toy_a-{i:05d}" for i in range(j, min(j + 5, 23))] for j in range(0, 23, 5)]
    for nw in (0, 1, 2, 3):
        assert batches(nw) == expected
