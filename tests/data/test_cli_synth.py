"""Acceptance: `crabplus data synth` writes every family; read back, media and targets match the generator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from crabplus.data.cli import main as data_main
from crabplus.data.decode import load_audio, load_image, load_mask, load_video
from crabplus.data.shards import iter_shard, read_index, shard_paths
from crabplus.data.synth import SynthWorld, WorldConfig
from crabplus.data.synth.families import FAMILIES, make_sample

SYNTH_TASKS = list(FAMILIES)

pytestmark = pytest.mark.integration

WORLD = SynthWorld(WorldConfig())  # configs/data/synth.yaml's world


def _samples(root, task, split):
    return [r for p in shard_paths(root, task, split) for r in iter_shard(p)]


@pytest.mark.slow
@pytest.mark.parametrize("task", SYNTH_TASKS)
def test_every_family_written_and_matches_truth(synth_root, task):
    for split, n in [("train", 6), ("val", 3)]:
        index = read_index(synth_root, task, split)
        assert index["num_samples"] == n and index["task"] == task and len(index["shards"]) == -(-n // 4)
        raws = _samples(synth_root, task, split)
        assert len(raws) == n
    raw = raws[0]
    record = json.loads(raw["json"])
    scene_index = record["meta"]["scene"]
    assert scene_index == 1_000_000  # first val scene
    truth = make_sample(task, WORLD, scene_index)
    assert record["target"] == truth.target and record["meta"] == truth.meta and record["task"] == task
    scene = WORLD.scene(scene_index)
    if "mp4" in raw:
        video = load_video(raw["mp4"], 16, 64)
        assert video.shape == (16, 3, 64, 64)
        audio = load_audio(raw["mp4"])
        assert abs(audio.numel() / 16000 - scene.duration) < 0.1  # 4 s (+ AAC priming)
        if task != "synth_match":
            clip = WORLD.render(scene)
            ref = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float()
            assert (video.float() - ref).abs().mean() < 12  # H.264 of a noisy clip
            assert np.corrcoef(audio.numpy()[:64000], clip.audio)[0, 1] > 0.9
    else:
        assert set(raw) >= {"png", "wav"}
        assert load_image(raw["png"], 64).shape == (3, 64, 64)
        assert abs(load_audio(raw["wav"]).numel() - 64000) == 0
    if task == "synth_seg":
        np.testing.assert_array_equal(load_mask(raw["mask.png"]).numpy(), truth.extra["mask"])


def test_cli_errors_name_the_key(tmp_path, capsys):
    assert (
        data_main(
            ["synth", "--out", str(tmp_path), "--config", "configs/data/synth.yaml", "tasks.synth_nope={}"]
        )
        == 2
    )
    assert "tasks.synth_nope" in capsys.readouterr().err


def test_cli_split_selection_and_task_override(tmp_path):
    rc = data_main(
        [
            "synth",
            "--out",
            str(tmp_path),
            "--split",
            "test",
            "splits.test=1",
            "splits.val=1",
            "tasks={synth_cls: {splits: {test: 2}, world: {audio_noise: 0.0}}, synth_ground: {}}",
        ]
    )
    assert rc == 0
    assert read_index(tmp_path, "synth_cls", "test")["num_samples"] == 2
    assert read_index(tmp_path, "synth_ground", "test")["num_samples"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth_cls", "synth_ground"]
    assert not (tmp_path / "synth_cls" / "val").exists()
    assert data_main(["synth", "--out", str(tmp_path), "--split", "dev"]) == 2


def test_reasoning_is_written_on_request_and_parsed_away(tmp_path):
    """tasks.synth_match.reasoning: true puts the family's reasoning into the shards; the answer text starts
    with <think> and still parses to the target. Families without reasoning refuse the flag."""
    from crabplus import tasks

    rc = data_main(["synth", "--out", str(tmp_path), "--split", "test", "splits.test=3",
                    "tasks={synth_match: {reasoning: true}, synth_cls: {}}"])
    assert rc == 0
    match, task = _samples(tmp_path, "synth_match", "test"), tasks.get("synth_match")
    for i, raw in enumerate(match):
        record = json.loads(raw["json"])
        assert record["reasoning"] == make_sample("synth_match", WORLD, 2_000_000 + i).reasoning
        answer = task.format_target(record["target"], record["reasoning"])
        assert answer.startswith("<think>On screen: ") and task.parse(answer) == record["target"]
    assert all(json.loads(r["json"])["reasoning"] is None for r in _samples(tmp_path, "synth_cls", "test"))
    bad = ["synth", "--out", str(tmp_path / "bad"), "tasks={synth_cls: {reasoning: true}}"]
    assert data_main(bad) == 2


def test_real_task_registry_formats_every_family(synth_root):
    """With crabplus.tasks (the default lookup), every family's answer text parses back to its target."""
    tasks = pytest.importorskip("crabplus.tasks")
    missing = [t for t in SYNTH_TASKS if t not in tasks.names()]
    if missing:
        pytest.skip(f"crabplus.tasks lacks {missing}")
    from crabplus.data.datamodule import MultiTaskDataModule
    from crabplus.data.sample import MediaSpec

    dm = MultiTaskDataModule(
        str(synth_root),
        SYNTH_TASKS,
        batch_size=3,
        num_workers=0,
        media=MediaSpec(num_frames=2, frame_size=16, n_mels=16),
    )
    for name, loader in zip(dm.val_task_names, dm.val_dataloader()):
        batch = next(iter(loader))
        assert len(batch["prompt"]) == 3 and all(p for p in batch["prompt"])
        parsed = tasks.get(name).parse(batch["answer"][0])
        assert not parsed.get("unparseable"), (name, batch["answer"][0])
    assert sum(dm.skip_counts().values()) == 0
