"""Shared by ``a2v`` and ``v2a``: labelled AV clips, seeded candidate pairs, and the composed pair media.

Crab+'s cross-modal matching tasks show two clips one after the other in one modality and one clip in the
other; the answer is ``"one"`` or ``"two"`` (the position of the matching clip). They have no annotation
file of their own: pairs are built from any folder of labelled audio-visual clips (see ``iter_clips``).

Decisions:

* Pairing: for each clip (the query) the other candidate is a clip of the same split with a *different*
  label (so the answer is decidable from content), drawn with ``random.Random(f"{SEED}:{task}:{key}")``;
  the same draw puts the query first or second. The pairs depend only on the label list, not on file
  order or on which media exist; a missing clip (query or partner) makes the row a ``missing media`` skip.
* Media: each candidate contributes its first ``seg = min(SEGMENT_SECONDS, shortest clip)`` seconds, so
  the two halves are equally long and the pair (2 x 2 s) fits the 4-s audio window of the default
  ``MediaSpec``. The composed video is an audio-less H.264 mp4 at :data:`FPS` fps with the query clip's
  frame size; the audio is a 16 kHz mono wav (the shard reader takes audio from the wav, not the mp4).
  They are composed when the sample is written (``Sample.make_media``). A clip without an audio stream is
  an error naming the file.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import av
import numpy as np
from PIL import Image

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import VIDEO_EXTS, find_media
from crabplus.data.converters._readers import check_split, iter_csv
from crabplus.data.converters._registry import ReadFn, register
from crabplus.data.converters._sample import MISSING_MEDIA, Sample, Skip, sanitize_key
from crabplus.data.decode import DecodeError, load_audio
from crabplus.data.encode import encode_mp4, encode_wav

__all__ = [
    "Clip",
    "iter_clips",
    "matching_samples",
    "read_matching",
    "register_matching",
    "MATCH_SPLITS",
    "SEED",
    "SEGMENT_SECONDS",
    "FPS",
    "RATE",
]

MATCH_SPLITS = ("train", "val", "test", "all")
SEED = 0
SEGMENT_SECONDS = 2.0
FPS = 8
RATE = 16000
ANSWERS = ("one", "two")


@dataclass(frozen=True)
class Clip:
    """One labelled clip: sample ``key``, ``label``, ``video`` file and the ``origin`` for error messages."""

    key: str
    label: str
    video: Path
    origin: tuple[Path, str]


def iter_clips(src: Path, split: str) -> list[Clip]:
    """The labelled clips of ``split`` under ``src``, in one of two layouts.

    1. ``labels.csv`` with columns ``clip, label`` [, ``split``] and clips at ``clips/<clip>`` (``clip``
       with or without a video extension; without, ``.mp4`` then the other ``VIDEO_EXTS`` are tried).
       Without a ``split`` column every row is in split ``all`` (the only split accepted then).
    2. Class folders ``<split>/<label>/<clip>.<ext>`` (the Kinetics-Sounds layout, e.g. the raw clips of
       a recognition dataset); ``all`` reads every folder of :data:`MATCH_SPLITS`.
    """
    listing = src / "labels.csv"
    if listing.is_file():
        return _from_csv(src, split, listing)
    splits = [s for s in MATCH_SPLITS[:-1] if (src / s).is_dir()] if split == "all" else [split]
    clips = []
    for s in splits:
        root = src / s
        if not root.is_dir():
            raise AnnotationError(root, "", "neither labels.csv nor a <split>/<label>/ clip folder found")
        for cls in sorted(p for p in root.iterdir() if p.is_dir()):
            for video in sorted(p for p in cls.iterdir() if p.suffix.lower() in VIDEO_EXTS):
                clips.append(Clip(f"{cls.name}_{video.stem}", cls.name, video, (video, "")))
    return clips


def _from_csv(src: Path, split: str, path: Path) -> list[Clip]:
    clips = []
    for where, row in iter_csv(path, ("clip", "label")):
        if "split" not in row and split != "all":
            raise AnnotationError(
                path, "line 1", f"no 'split' column, so only split 'all' exists, not {split!r}"
            )
        if split != "all" and row["split"] != split:
            continue
        name = row["clip"]
        if Path(name).suffix.lower() in VIDEO_EXTS:
            stem, files = Path(name).stem, [name]
        else:
            stem, files = name, [f"{name}{ext}" for ext in VIDEO_EXTS]
        clips.append(Clip(stem, row["label"], find_media(src / "clips" / f for f in files), (path, where)))
    return clips


#: ``compose(query, candidates, seg) -> {role: (file suffix, bytes)}`` given decoded clips.
Compose = Callable[["Decoded", list["Decoded"], float], dict[str, tuple[str, bytes]]]


@dataclass(frozen=True)
class Decoded:
    """A decoded clip prefix: ``frames (T, H, W, 3)`` uint8 with their ``times`` (s), ``audio (N,)`` 16 kHz."""

    frames: np.ndarray
    times: np.ndarray
    audio: np.ndarray

    @property
    def seconds(self) -> float:
        return min(float(self.times[-1]) + 1.0 / FPS, self.audio.size / RATE)


def read_matching(task: str, src: Path, split: str, compose: Compose) -> Iterator[Sample]:
    """The reader of a matching converter: ``split``'s clips under ``src``, paired and composed."""
    check_split(split, MATCH_SPLITS, task)
    yield from matching_samples(task, iter_clips(src, split), compose)


def register_matching(task: str, compose: Compose) -> ReadFn:
    """Register converter ``task`` (writing task ``task``): ``split``'s clips paired and composed by ``compose``."""

    def read(src: Path, split: str) -> Iterator[Sample]:
        yield from read_matching(task, src, split, compose)

    read.__name__ = read.__qualname__ = f"read_{task}"
    read.__module__ = compose.__module__  # the converter module that defines the pair (a2v, v2a)
    read.__doc__ = (
        f"{task.upper()} pairs from labelled AV clips: labels.csv (clip, label[, split]) + clips/, "
        "or <split>/<label>/ folders."
    )
    return register(task, tasks=(task,), splits=MATCH_SPLITS)(read)


def matching_samples(task: str, clips: list[Clip], compose: Compose) -> Iterator[Sample]:
    """One sample per clip of ``clips``: the seeded pair, composed by ``compose`` (see module docstring)."""
    if not clips:
        return
    labels = sorted({c.label for c in clips})
    if len(labels) < 2:
        raise AnnotationError(
            clips[0].origin[0], "", f"{task} needs clips of two labels or more, got {labels}"
        )
    seconds: dict[Path, float] = {}  # decoded prefix length per clip, read once
    for clip in clips:
        rng = random.Random(f"{SEED}:{task}:{clip.key}")
        partner = rng.choice([c for c in clips if c.label != clip.label])
        position = rng.randrange(2)
        pair = [clip, partner] if position == 0 else [partner, clip]
        missing = next((c.video for c in pair if not c.video.is_file()), None)
        if missing is not None:
            yield Skip(task, clip.origin, MISSING_MEDIA, f"{missing} (pair of {clip.key!r})")
            continue
        meta = {
            "video_id": sanitize_key(clip.key),
            "candidates": [sanitize_key(c.key) for c in pair],
            "options": list(ANSWERS),
            "segment_seconds": round(_pair_seconds(pair, seconds), 3),
        }
        yield Sample(
            origin=clip.origin,
            task=task,
            key=clip.key,
            meta=meta,
            target={"label": ANSWERS[position]},
            make_media=partial(_pair_media, compose, clip.video, [c.video for c in pair]),
        )


def _pair_seconds(pair: list[Clip], cache: dict[Path, float]) -> float:
    """``seg``: the seconds each candidate contributes (the shorter clip prefix, at most SEGMENT_SECONDS)."""
    for clip in pair:
        if clip.video not in cache:
            cache[clip.video] = _decode(clip.video).seconds
    return min(SEGMENT_SECONDS, *(cache[c.video] for c in pair))


def _pair_media(compose: Compose, query: Path, pair: list[Path]) -> dict[str, bytes]:
    """The composed pair's shard media, ``{extension: bytes}`` (decoded and encoded when written)."""
    decoded = [_decode(p) for p in pair]
    seg = min(SEGMENT_SECONDS, *(d.seconds for d in decoded))
    return dict(compose(decoded[pair.index(query)], decoded, seg).values())


def _decode(path: Path) -> Decoded:
    """Frames (with times) and 16 kHz mono audio of the first ``SEGMENT_SECONDS`` of ``path``."""
    try:
        audio = load_audio(str(path), RATE).numpy()[: int(round(SEGMENT_SECONDS * RATE))]
    except DecodeError as err:
        raise AnnotationError(path, "", f"{err}: matching tasks need the clip's sound") from None
    frames, times = [], []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise AnnotationError(path, "", "no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        for i, frame in enumerate(container.decode(video=0)):
            t = float(frame.time) if frame.time is not None else i / rate
            if t >= SEGMENT_SECONDS:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(t)
    if not frames:
        raise AnnotationError(path, "", "video stream has no decodable frames")
    return Decoded(np.stack(frames), np.asarray(times) - times[0], audio)


def video_segment(clip: Decoded, seg: float, size: tuple[int, int]) -> np.ndarray:
    """``(round(seg * FPS), H, W, 3)`` frames of the first ``seg`` s of ``clip`` at ``FPS``, resized to ``size``
    ``(H, W)``: for each output time the last frame shown at that time."""
    n = max(1, int(round(seg * FPS)))
    idx = np.searchsorted(clip.times, (np.arange(n) + 0.5) / FPS, side="right") - 1
    out = []
    for i in np.clip(idx, 0, len(clip.frames) - 1):
        img = clip.frames[i]
        if img.shape[:2] != size:
            img = np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.BILINEAR))
        out.append(img)
    return np.stack(out)


def audio_segment(clip: Decoded, seg: float) -> np.ndarray:
    """The first ``seg`` seconds of ``clip``'s audio, ``(round(seg * RATE),)`` (zero-padded if short)."""
    n = int(round(seg * RATE))
    return np.pad(clip.audio[:n], (0, max(0, n - clip.audio[:n].size))).astype(np.float32)


def frame_size(clip: Decoded) -> tuple[int, int]:
    """``(H, W)`` of ``clip`` rounded down to even numbers (H.264 yuv420p needs them)."""
    h, w = clip.frames.shape[1:3]
    return max(2, h // 2 * 2), max(2, w // 2 * 2)


def mp4(frames: np.ndarray) -> tuple[str, bytes]:
    """An audio-less mp4 entry of ``frames``."""
    return "mp4", encode_mp4(frames, FPS, None)


def wav(audio: np.ndarray) -> tuple[str, bytes]:
    """A 16 kHz wav entry of ``audio``."""
    return "wav", encode_wav(audio, RATE)
