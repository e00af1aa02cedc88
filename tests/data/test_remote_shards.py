"""Shards streamed from local paths, ``file://``, ``http://`` (a local HTTP server in a thread) and ``pipe:``
URLs give the same samples, the same mixture batches, the same per-task weights and the same exact resume
(issue 16, friction 9)."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from tests.train._launch import write_synth

from crabplus.data import MultiTaskDataModule
from crabplus.data.sample import MediaSpec
from crabplus.data.shards import iter_shard, join_location, read_index, shard_paths

TASKS = ["synth_cls", "synth_ground"]  # video+audio and image+audio: two modality groups
pytestmark = pytest.mark.integration


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request lines in the test output
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_synth(tmp_path_factory.mktemp("remote"), TASKS, train=6)  # 3 samples per shard: 2 shards


@pytest.fixture(scope="module")
def http_root(world):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(world)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def roots(world, http_root) -> dict[str, str | Path]:
    return {
        "local": world,
        "file": f"file://{world}",
        "http": http_root,
        "pipe": f"pipe:cat {world}/{{}}",
    }


def digest(raw: dict) -> tuple:
    """A sample as (key, sha256 of each member) — independent of where it was read from."""
    return raw["__key__"], tuple(
        sorted((k, hashlib.sha256(v).hexdigest()) for k, v in raw.items() if not k.startswith("__"))
    )


@pytest.mark.unit
def test_locations_join_for_paths_urls_and_pipe_templates(tmp_path):
    assert join_location(tmp_path, "t", "train", "index.json") == tmp_path / "t" / "train" / "index.json"
    assert join_location("http://h:1/data/", "t", "train", "a.tar") == "http://h:1/data/t/train/a.tar"
    assert (
        join_location("pipe:aws s3 cp s3://b/x/{} -", "t", "val", "a.tar")
        == "pipe:aws s3 cp s3://b/x/t/val/a.tar -"
    )
    assert (
        join_location("pipe:curl -s http://h/x", "t", "val", "a.tar") == "pipe:curl -s http://h/x/t/val/a.tar"
    )


def test_every_location_reads_the_same_samples(roots):
    expected = {
        t: [digest(r) for p in shard_paths(roots["local"], t, "train") for r in iter_shard(p)] for t in TASKS
    }
    assert all(len(v) == 6 for v in expected.values())
    for name, root in roots.items():
        for task in TASKS:
            assert read_index(root, task, "train") == read_index(roots["local"], task, "train"), name
            got = [digest(r) for p in shard_paths(root, task, "train") for r in iter_shard(p)]
            assert got == expected[task], f"{name}: {task} differs"


def test_a_missing_remote_index_names_the_url(http_root):
    with pytest.raises(FileNotFoundError, match="synth_qa/train/index.json could not be read"):
        read_index(http_root, "synth_qa", "train")


def datamodule(root) -> MultiTaskDataModule:
    return MultiTaskDataModule(
        root=str(root),
        tasks=[{"name": "synth_cls", "weight": 3.0}, {"name": "synth_ground", "weight": 1.0}],
        batch_size=2,
        num_workers=0,
        shuffle_buffer=4,
        media=MediaSpec(num_frames=4, frame_size=32, n_mels=64, clip_seconds=4.0),
    )


def batches(dm: MultiTaskDataModule, n: int) -> list[dict]:
    out = []
    for batch in dm.train_dataloader():
        dm.observe(batch)  # what Lightning's on_before_batch_transfer does with a consumed batch
        out.append(batch)
        if len(out) == n:
            return out
    raise AssertionError("the training stream ended")


def signature(batch: dict) -> tuple:
    """Sample keys without the shard location, and the media tensors."""
    keys = tuple(k.rsplit(":", 1)[1] for k in batch["key"])
    media = tuple(batch[k] for k in ("video", "audio", "image") if k in batch)
    return keys, media


def same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        (kx, mx), (ky, my) = signature(x), signature(y)
        assert kx == ky
        assert all(torch.equal(u, v) for u, v in zip(mx, my))


@pytest.mark.slow
@pytest.mark.parametrize("location", ["http", "pipe"])
def test_mixture_weights_batches_and_exact_resume_over_a_remote_root(roots, location):
    local, remote = datamodule(roots["local"]), datamodule(roots[location])
    assert remote.task_weights == local.task_weights == {"synth_cls": 0.75, "synth_ground": 0.25}
    reference = batches(local, 10)
    streamed = batches(remote, 4)
    same(streamed, reference[:4])
    # resume from the state after batch 4, on a fresh DataModule reading the same remote root
    resumed = datamodule(roots[location])
    resumed.load_state_dict(remote.state_dict())
    same(batches(resumed, 6), reference[4:])
    tasks = [t for b in reference for t in b["task"]]
    assert tasks.count("synth_cls") > tasks.count("synth_ground")  # weights 3:1 reach the batches
