"""Shared fixtures for tests/data: a fake Task registry and small synthetic shard sets (session scope)."""

from __future__ import annotations

import json

import pytest

from crabplus.data.cli import main as data_main
from crabplus.data.shards import ShardWriter


class FakeTask:
    """Stand-in for a crabplus.tasks Task: prompt and answer text derived from meta/target."""

    def __init__(self, name: str):
        self.name = name

    def build_prompt(self, meta: dict) -> str:
        return f"<video><audio> {self.name}: {meta.get('question', '')}"

    def format_target(self, target: dict, reasoning=None) -> str:
        return json.dumps({k: v for k, v in target.items() if k != "mask"}, sort_keys=True)


def fake_lookup(name: str) -> FakeTask:
    if not name.startswith(("synth_", "toy_")):
        raise KeyError(f"unknown task {name!r}")
    return FakeTask(name)


@pytest.fixture(name="task_lookup")
def _task_lookup():
    """``name -> FakeTask`` for synth_* and toy_* names (KeyError otherwise, like crabplus.tasks.get)."""
    return fake_lookup


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    """Every synthetic family, 6 train / 3 val samples, written through the CLI."""
    out = tmp_path_factory.mktemp("synth")
    rc = data_main(
        [
            "synth",
            "--out",
            str(out),
            "--config",
            "configs/data/synth.yaml",
            "splits.train=6",
            "splits.val=3",
            "splits.test=0",
            "maxcount=4",
        ]
    )
    assert rc == 0
    return out


def write_toy(root, task: str, n: int, media: dict, maxcount: int = 8, split: str = "train") -> None:
    """Text-only stand-in shards (media bytes are placeholders; use with MediaSpec(decode=False))."""
    with ShardWriter(root, task, split, maxcount=maxcount) as w:
        for i in range(n):
            w.write(f"{task}-{i:05d}", {"i": i}, {"label": f"{task}-{i}"}, media)


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory):
    """Three toy tasks in two modality groups: a (mp4, 40), b (mp4, 24), c (png+wav, 16)."""
    root = tmp_path_factory.mktemp("toy")
    write_toy(root, "toy_a", 40, {"mp4": b"x"})
    write_toy(root, "toy_b", 24, {"mp4": b"x"}, maxcount=3)
    write_toy(root, "toy_c", 16, {"png": b"x", "wav": b"x"}, maxcount=16)
    return root
