"""Data pipeline throughput: full pipeline (MultiTaskDataModule) vs raw decord decoding of the same clips.

Writes a small synthetic shard set (mp4 tasks only, so both sides decode the same files), then measures
in one run:
- ``raw``: decord2 on the clip bytes already in memory — N uniformly sampled frames resized + the audio
  track, nothing else (the decoder's floor);
- ``pipeline``: samples/s out of ``train_dataloader()`` (tar reading, shuffling, json, decode, log-mel,
  prompt/answer text, collation, worker IPC), after the first batch (worker start-up excluded).
Prints both and their ratio, then the long-clip line: a 10-minute clip and a 10-second clip decoded the way
a training sample is (``decode_sample``: T frames over the clip, audio over the 4-s window it uses); the
long one must cost under 3x the short one (the audio track is decoded over the window only).
Keep it under a minute: ``python tools/bench_data.py [--samples 160]``.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time

import numpy as np

from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.encode import encode_mp4
from crabplus.data.sample import MediaSpec, decode_sample
from crabplus.data.shards import iter_shard, shard_paths
from crabplus.data.synth.generate import load_synth_config, write_synth

TASKS = ["synth_cls", "synth_loc", "synth_qa"]


class _TextTask:
    """Prompt/answer stand-in so the bench does not depend on the task registry."""

    def build_prompt(self, meta: dict) -> str:
        return "<video><audio> " + meta.get("question", "")

    def format_target(self, target: dict, reasoning=None) -> str:
        return json.dumps(target)


def _raw_decord(clips: list[bytes], spec: MediaSpec) -> float:
    import decord

    start = time.perf_counter()
    for data in clips:
        vr = decord.VideoReader(
            io.BytesIO(data), ctx=decord.cpu(0), width=spec.frame_size, height=spec.frame_size, num_threads=1
        )
        idx = ((np.arange(spec.num_frames) + 0.5) * len(vr) / spec.num_frames).astype(int)
        vr.get_batch(idx.tolist()).asnumpy()
        decord.AudioReader(io.BytesIO(data), ctx=decord.cpu(0), sample_rate=spec.sample_rate, mono=True)[:]
    return len(clips) / (time.perf_counter() - start)


def _pipeline(root: str, spec: MediaSpec, n: int, batch_size: int, workers: int) -> float:
    dm = MultiTaskDataModule(
        root,
        TASKS,
        batch_size=batch_size,
        num_workers=workers,
        media=spec,
        shuffle_buffer=16,
        task_lookup=lambda name: _TextTask(),
    )
    seen, start = 0, None
    for batch in dm.train_dataloader():
        if start is None:  # exclude worker start-up and the first batch
            start = time.perf_counter()
            continue
        seen += len(batch["key"])
        if seen >= n:
            break
    return seen / (time.perf_counter() - start)


def _clip(seconds: int, fps: int = 4, size: int = 32, sample_rate: int = 16000) -> bytes:
    """An H.264 + AAC mp4 of ``seconds`` (moving gradient frames, a tone whose pitch changes)."""
    t = np.arange(seconds * fps)
    frames = ((t[:, None, None, None] * 7 + np.arange(size)[None, None, :, None]) % 256).astype(np.uint8)
    frames = np.broadcast_to(frames, (len(t), size, size, 3))
    n = np.arange(seconds * sample_rate)
    audio = (0.3 * np.sin(2 * np.pi * (220 + 20 * (n // sample_rate % 10)) * n / sample_rate)).astype(
        np.float32
    )
    return encode_mp4(frames, fps, audio, sample_rate)


def long_clip_ratio(spec: MediaSpec, repeats: int = 3) -> tuple[float, float]:
    """Seconds to decode one 10-s and one 10-min clip as a training sample (best of ``repeats``)."""
    record = json.dumps({"task": "bench", "meta": {}, "target": {}}).encode()
    times = []
    for seconds in (10, 600):
        raw = {"mp4": _clip(seconds), "json": record, "__key__": f"clip{seconds}", "__shard__": "bench"}
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            decode_sample(raw, "bench", ("video", "audio"), spec, lambda name: _TextTask())
            best = min(best, time.perf_counter() - start)
        times.append(best)
    return times[0], times[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=160, help="samples timed on each side")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    spec = MediaSpec(num_frames=args.frames, frame_size=args.size, n_mels=64, clip_seconds=4.0)
    with tempfile.TemporaryDirectory() as root:
        per_task = max(8, args.samples // len(TASKS) // 2)
        cfg = load_synth_config(
            "configs/data/synth.yaml",
            [f"splits.train={per_task}", "splits.val=0", "splits.test=0", "maxcount=16"],
        )
        cfg.tasks = {t: {} for t in TASKS}
        write_synth(root, cfg, splits=["train"], log=lambda *_: None)
        clips = [r["mp4"] for t in TASKS for p in shard_paths(root, t, "train") for r in iter_shard(p)]
        clips = (clips * (1 + args.samples // len(clips)))[: args.samples]
        raw = _raw_decord(clips, spec)
        full = _pipeline(root, spec, args.samples, args.batch_size, args.workers)
    print(f"clips: 4 s, 64x64 @ 4 fps + 16 kHz AAC; decode {args.frames} frames at {args.size}^2 + audio")
    print(f"raw decord (1 process):                 {raw:8.1f} samples/s")
    print(f"full pipeline ({args.workers} workers, batch {args.batch_size}):  {full:8.1f} samples/s")
    print(f"pipeline / raw:                          {full / raw:8.2f}")
    short, long = long_clip_ratio(spec)
    verdict = "ok" if long < 3 * short else "TOO SLOW (must be < 3x)"
    print(f"10-min clip vs 10-s clip (one sample):   {long * 1e3:.1f} ms vs {short * 1e3:.1f} ms = "
          f"{long / short:.2f}x {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
