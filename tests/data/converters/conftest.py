"""Tiny fake media and a shard reader for the converter tests.

Media are made once per session with PyAV / soundfile / Pillow through ``crabplus.data.encode``:
a 1-s 32x32 H.264 + AAC mp4 at 8 fps, a 1-s 16 kHz wav, 32x32 png / jpg frames and binary masks.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from crabplus.data.encode import encode_mask_png, encode_mp4, encode_png, encode_wav
from crabplus.data.shards import iter_shard, read_index, shard_paths


@dataclass(frozen=True)
class FakeMedia:
    mp4: bytes
    wav: bytes
    png: bytes
    jpg: bytes
    mask: bytes  # a box from (8, 4) to (24, 20) (x, y) in a 32x32 frame
    empty_mask: bytes


@pytest.fixture(scope="session")
def media() -> FakeMedia:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(8, 32, 32, 3), dtype=np.uint8)  # (T, H, W, 3)
    tone = 0.1 * np.sin(np.linspace(0, 2 * np.pi * 440, 16000)).astype(np.float32)  # (N,)
    buf = io.BytesIO()
    Image.fromarray(frames[0]).save(buf, format="JPEG")
    mask = np.zeros((32, 32), dtype=bool)
    mask[4:20, 8:24] = True
    return FakeMedia(
        mp4=encode_mp4(frames, 8, tone, 16000),
        wav=encode_wav(tone, 16000),
        png=encode_png(frames[0]),
        jpg=buf.getvalue(),
        mask=encode_mask_png(mask),
        empty_mask=encode_mask_png(np.zeros((32, 32), dtype=bool)),
    )


def put(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path``, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def read_samples(root: Path, task: str, split: str) -> list[dict]:
    """All samples of ``root/task/split`` with the json decoded under ``"json"``; checks index.json."""
    index = read_index(root, task, split)
    out = []
    for shard in shard_paths(root, task, split):
        for raw in iter_shard(shard):
            raw["json"] = json.loads(raw["json"])
            out.append(raw)
    assert index["num_samples"] == len(out)
    assert index["task"] == task and index["split"] == split
    return out


FIXTURES = Path(__file__).parent / "fixtures"


def copy_official(dataset: str, dest: Path) -> Path:
    """A copy of ``fixtures/<dataset>/`` at ``dest``: annotation files in the official layout whose rows are
    copied from the datasets' published files (quirks included; byte order marks and CRLF kept)."""
    shutil.copytree(FIXTURES / dataset, dest)
    return dest


def read_skipped(root: Path, task: str, split: str) -> list[dict]:
    """The rows of ``root/task/split/skipped.jsonl``."""
    text = (root / task / split / "skipped.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def official():
    return copy_official


@pytest.fixture
def skipped():
    return read_skipped


@pytest.fixture
def put_file():
    return put


@pytest.fixture
def read_shards():
    return read_samples


def encode_legacy_video(fmt: str, vcodec: str, with_audio: bool) -> bytes:
    """A 1-s 32x32 clip in an old container (``avi``/mpeg4 like UCF101, ``flv``/flv like CREMA-D).

    With ``with_audio`` a 1-s mono 440 Hz tone is muxed too: pcm_s16le 16 kHz (avi), adpcm_swf 22.05 kHz (flv).
    """
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        vs = container.add_stream(vcodec, rate=8)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        aus = None
        if with_audio:
            codec, rate = ("pcm_s16le", 16000) if fmt == "avi" else ("adpcm_swf", 22050)
            aus = container.add_stream(codec, rate=rate, layout="mono")
        for i in range(8):
            img = np.full((32, 32, 3), 30 * i, dtype=np.uint8)
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if aus is not None:
            tone = (3000 * np.sin(np.linspace(0, 2 * np.pi * 440, rate))).astype(np.int16)
            step = aus.codec_context.frame_size or 1024
            for start in range(0, rate - step + 1, step):
                frame = av.AudioFrame.from_ndarray(
                    tone[None, start : start + step], format="s16", layout="mono"
                )
                frame.sample_rate, frame.pts = rate, start
                for packet in aus.encode(frame):
                    container.mux(packet)
            for packet in aus.encode():
                container.mux(packet)
    return buf.getvalue()


@pytest.fixture(scope="session")
def legacy_video():
    """:func:`encode_legacy_video` (avi / flv clips for the transcoding converters)."""
    return encode_legacy_video
