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

``--source 640x360`` replaces the synthetic 64x64 clips by real-size ones generated in-process with PyAV
(H.264 at that size, ``--source-seconds`` 10 s at 25 fps, AAC at 44.1 kHz; ``--clips`` distinct clips
repeated), prints pipeline / (workers x raw) against raw decord and against the pipeline's own decoders
alone (PyAV audio over the window: decord's ``AudioReader`` decodes the whole track and its ``[:]`` spends
most of its time making Python ints), and a per-stage breakdown of one sample in one process (decode at
the native size, resize, audio decode both ways, log-mel, prompt, collate, and the bytes a worker sends per
sample: uint8 frames, as float frames before) to show where the time beyond decoding goes. E.g.
``python tools/bench_data.py --source 640x360 --frames 8 --size 224 --workers 2 --samples 48``.
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import tempfile
import time

import numpy as np
import torch

from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.decode import frame_indices, load_audio, log_mel
from crabplus.data.encode import encode_mp4
from crabplus.data.loaders import collate
from crabplus.data.sample import MediaSpec, decode_sample, fit_length
from crabplus.data.shards import ShardWriter, iter_shard, shard_paths
from crabplus.data.synth.generate import load_synth_config, write_synth

TASKS = ["synth_cls", "synth_loc", "synth_qa"]
REAL_TASK = "bench_av"  # not a registered task: no target check, the stand-in formats prompts


class _TextTask:
    """Prompt/answer stand-in so the bench does not depend on the task registry."""

    def build_prompt(self, meta: dict) -> str:
        return "<video><audio> " + meta.get("question", "")

    def format_target(self, target: dict, reasoning=None) -> str:
        return json.dumps(target)


def _raw_decord(clips: list[bytes], spec: MediaSpec, resize_in_decoder: bool = True) -> float:
    """Samples/s of decord alone: N frames (resized by decord when the sizes allow it, else at the native
    size: decord2 cannot resize to a size other than the stream's) and the audio track."""
    import decord

    start = time.perf_counter()
    for data in clips:
        size = {"width": spec.frame_size, "height": spec.frame_size} if resize_in_decoder else {}
        vr = decord.VideoReader(io.BytesIO(data), ctx=decord.cpu(0), num_threads=1, **size)
        idx = ((np.arange(spec.num_frames) + 0.5) * len(vr) / spec.num_frames).astype(int)
        vr.get_batch(idx.tolist()).asnumpy()
        decord.AudioReader(io.BytesIO(data), ctx=decord.cpu(0), sample_rate=spec.sample_rate, mono=True)[:]
    return len(clips) / (time.perf_counter() - start)


def _real_clip(
    width: int, height: int, seconds: int, seed: int, fps: int = 25, sample_rate: int = 44100
) -> bytes:
    """A real-size H.264 + AAC mp4: a textured scene panning (so the encoder has work, as with real video)
    and a noisy tone."""
    rng = np.random.default_rng(seed)
    scene = rng.integers(0, 256, (height // 8 + 1, (width + seconds * fps * 2) // 8 + 1, 3), dtype=np.uint8)
    scene = np.kron(scene, np.ones((8, 8, 1), dtype=np.uint8))  # 8x8 blocks, like real textures at this size
    frames = np.stack([scene[:height, 2 * t : 2 * t + width] for t in range(seconds * fps)])
    n = np.arange(seconds * sample_rate)
    audio = 0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * n / sample_rate) + 0.05 * rng.standard_normal(n.size)
    return encode_mp4(frames, fps, audio.astype(np.float32), sample_rate, crf=23)


def _write_real(root: str, clips: list[bytes], copies: int) -> None:
    with ShardWriter(root, REAL_TASK, "train", maxcount=16) as writer:
        for c in range(copies):
            for i, clip in enumerate(clips):
                writer.write(f"c{c:03d}_{i:03d}", {"question": "what happens?"}, {"label": i}, {"mp4": clip})


def _raw_own_decoders(clips: list[bytes], spec: MediaSpec) -> float:
    """Samples/s of the pipeline's own decoders alone, in one process: decord's N frames at the native size
    and PyAV's audio over the window a sample uses (``load_audio``), nothing else."""
    import decord

    start = time.perf_counter()
    for data in clips:
        reader = decord.VideoReader(io.BytesIO(data), ctx=decord.cpu(0), num_threads=1)
        reader.get_batch(frame_indices(len(reader), spec.num_frames).tolist()).asnumpy()
        load_audio(data, spec.sample_rate, spec.clip_seconds)
    return len(clips) / (time.perf_counter() - start)


def stage_breakdown(clips: list[bytes], spec: MediaSpec, batch_size: int) -> list[tuple[str, float]]:
    """Milliseconds per sample of each stage of ``decode_sample`` done by hand in one process (mean over
    ``clips``), plus collate per sample and the bytes one sample takes across the worker boundary."""
    import decord

    names = ("video decode (decord, native size)", "resize to S through float32 (uint8_resize off)",
             "resize to S as uint8 (media.uint8_resize, default)", "audio decode over the window (PyAV)",
             "audio decode, whole track (decord AudioReader[:])", "log-mel", "prompt + answer")  # fmt: skip
    times = dict.fromkeys(names, 0.0)
    samples = []
    task = _TextTask()
    side = (spec.frame_size, spec.frame_size)
    for data in clips:
        marks = [time.perf_counter()]
        reader = decord.VideoReader(io.BytesIO(data), ctx=decord.cpu(0), num_threads=1)
        frames = reader.get_batch(frame_indices(len(reader), spec.num_frames).tolist()).asnumpy()
        marks.append(time.perf_counter())
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
        x = torch.nn.functional.interpolate(x, size=side, mode="bilinear", antialias=True)
        x.round_().clamp_(0, 255).to(torch.uint8)
        marks.append(time.perf_counter())
        video = torch.nn.functional.interpolate(
            torch.from_numpy(frames).permute(0, 3, 1, 2), size=side, mode="bilinear", antialias=True
        ).contiguous()
        marks.append(time.perf_counter())
        wave = fit_length(load_audio(data, spec.sample_rate, spec.clip_seconds), spec.num_samples)
        marks.append(time.perf_counter())
        decord.AudioReader(io.BytesIO(data), ctx=decord.cpu(0), sample_rate=spec.sample_rate, mono=True)[:]
        marks.append(time.perf_counter())
        mel = log_mel(wave, spec.sample_rate, spec.n_mels, spec.hop, spec.n_fft)
        marks.append(time.perf_counter())
        prompt, answer = task.build_prompt({"question": "what happens?"}), task.format_target({"label": 1})
        marks.append(time.perf_counter())
        for name, a, b in zip(names, marks, marks[1:]):
            times[name] += b - a
        samples.append({"task": REAL_TASK, "key": "k", "prompt": prompt, "answer": answer, "target": {},
                        "meta": {}, "task_id": 0, "video": video, "audio": mel})  # fmt: skip
    out = [(name, 1e3 * t / len(clips)) for name, t in times.items()]
    batch = samples[:batch_size]
    start = time.perf_counter()
    collate(batch)
    out.append(("collate, uint8 frames (per sample)", 1e3 * (time.perf_counter() - start) / len(batch)))
    as_float = [dict(s, video=s["video"].float().div_(255.0)) for s in batch]
    start = time.perf_counter()
    collate(as_float)
    out.append(
        ("collate, float frames as before (per sample)", 1e3 * (time.perf_counter() - start) / len(batch))
    )
    sizes = [
        len(pickle.dumps(s["video"].numpy())) + len(pickle.dumps(s["audio"].numpy()))
        for s in (batch[0], as_float[0])
    ]
    out.append((f"bytes per sample across workers: {sizes[0] / 1e6:.2f} MB (uint8 frames; the model scales "
                f"them on its device), {sizes[1] / 1e6:.2f} MB as float frames", float("nan")))  # fmt: skip
    return out


def _pipeline(root: str, spec: MediaSpec, n: int, batch_size: int, workers: int, tasks=TASKS) -> float:
    dm = MultiTaskDataModule(
        root,
        list(tasks),
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


def _clip(seconds: int, fps: int = 4, size: int = 64, sample_rate: int = 16000) -> bytes:
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


def real_size(args: argparse.Namespace, spec: MediaSpec) -> None:
    """The benchmark on real-size source clips (see the module docstring)."""
    width, height = args.source
    started = time.perf_counter()
    clips = [_real_clip(width, height, args.source_seconds, seed) for seed in range(args.clips)]
    print(f"generated {len(clips)} clips {width}x{height}, {args.source_seconds} s @ 25 fps H.264 + 44.1 kHz "
          f"AAC ({np.mean([len(c) for c in clips]) / 1e6:.2f} MB each) in {time.perf_counter() - started:.0f} s")  # fmt: skip
    timed = (clips * (1 + args.samples // len(clips)))[: args.samples]
    with tempfile.TemporaryDirectory() as root:
        _write_real(root, clips, 1 + args.samples // len(clips))
        raw = _raw_decord(timed, spec, resize_in_decoder=False)
        own = _raw_own_decoders(timed, spec)
        full = _pipeline(root, spec, args.samples, args.batch_size, args.workers, tasks=[REAL_TASK])
    print(
        f"decode {args.frames} frames at {args.size}^2 + audio; load average "
        f"{__import__('os').getloadavg()[0]:.1f} (the ratios are measured in one run, all sides alike)"
    )
    n = args.workers
    rows = [
        ("raw decord (1 process, native size, whole audio track)", f"{raw:.2f} samples/s"),
        (f"raw, the pipeline's decoders (1 process; PyAV audio over the {spec.clip_seconds:g}-s window)",
         f"{own:.2f} samples/s"),
        (f"full pipeline ({n} workers, batch {args.batch_size})", f"{full:.2f} samples/s"),
        (f"pipeline / ({n} x raw decord)", f"{full / (n * raw):.2f}"),
        (f"pipeline / ({n} x raw, its own decoders): the cost beyond decoding", f"{full / (n * own):.2f}"),
    ]  # fmt: skip
    for label, value in rows:
        print(f"{label:78s} {value:>16s}")
    print("\nper-sample stages in one process:")
    for name, ms in stage_breakdown(clips, spec, args.batch_size):
        print(f"  {name:52s} {ms:8.1f} ms" if ms == ms else f"  {name}")


def _frame_size(text: str) -> tuple[int, int]:
    """``WxH`` (e.g. ``640x360``) as (width, height); argparse reports anything else in one line."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x360, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"{text}: width and height must be even and at least 16")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=160, help="samples timed on each side")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument(
        "--source",
        default=None,
        type=_frame_size,
        help="real-size source clips, e.g. 640x360 (default: 64x64 synth)",
    )
    parser.add_argument("--source-seconds", type=int, default=10)
    parser.add_argument("--clips", type=int, default=8, help="distinct real-size clips (repeated)")
    args = parser.parse_args(argv)
    spec = MediaSpec(num_frames=args.frames, frame_size=args.size, n_mels=64, clip_seconds=4.0)
    if args.source:
        real_size(args, spec)
        return 0
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
