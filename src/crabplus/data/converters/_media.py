"""Locating a sample's media files and turning them into the (extension, bytes) the shards store.

Decision: files already in a format the shard reader decodes are stored byte-for-byte (no
re-encoding; their first frame is decoded once to catch broken downloads): ``.mp4`` video; ``.wav`` / ``.mp3`` / ``.flac`` audio; ``.png`` / ``.jpg`` images; ``.png``
masks. Anything else is converted in-process with PyAV / Pillow: ``.avi`` / ``.flv`` / ``.mkv`` / ``.webm``
video -> H.264 + AAC (16 kHz mono) mp4 (UCF101, CREMA-D); other audio -> 16 kHz mono wav; other images
and masks -> png. So a shard member's extension always tells the truth about its bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.encode import encode_mp4, encode_wav

__all__ = ["find_media", "media_entry", "VIDEO_EXTS"]

VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".webm", ".flv", ".mov")
_AUDIO_KEYS = {".wav": "wav", ".mp3": "mp3", ".flac": "flac"}
_IMAGE_KEYS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}
_AUDIO_RATE = 16000


def find_media(candidates: Iterable[Path]) -> Path:
    """The first existing file among ``candidates``, else the first candidate.

    Existence is checked by the runner (``_run``), which skips a sample whose media are missing and lists
    its annotation row in ``skipped.jsonl``: datasets cut from YouTube always lack some videos.
    """
    tried = list(candidates)
    return next((p for p in tried if p.is_file()), tried[0])


def media_entry(role: str, path: Path) -> tuple[str, bytes]:
    """``(shard extension, bytes)`` for a file playing ``role`` (video / audio / image / mask).

    A file stored byte-for-byte is first checked to decode (``_readable``): a truncated or mislabelled
    download is a skip listed in ``skipped.jsonl`` now, not a shard member every epoch skips again.
    """
    suffix = path.suffix.lower()
    if role == "video":
        return "mp4", _readable(path, "video") if suffix == ".mp4" else _transcode_mp4(path)
    if role == "audio":
        if suffix in _AUDIO_KEYS:
            return _AUDIO_KEYS[suffix], _readable(path, "audio")
        return "wav", encode_wav(_decode_audio(path), _AUDIO_RATE)
    if role == "image":
        if suffix in _IMAGE_KEYS:
            return _IMAGE_KEYS[suffix], _readable(path, "image")
        return "png", _to_png(path)
    if role == "mask":
        return "mask.png", _readable(path, "image") if suffix == ".png" else _to_png(path)
    raise ValueError(f"unknown media role {role!r} for {path}")


def _readable(path: Path, kind: str) -> bytes:
    """The file's bytes once its first ``kind`` frame decodes (images: the whole picture); raises
    ``AnnotationError`` naming the file otherwise."""
    data = path.read_bytes()
    try:
        if kind == "image":
            with Image.open(io.BytesIO(data)) as img:
                img.load()
            return data
        with av.open(io.BytesIO(data)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise AnnotationError(path, "", f"no {kind} stream")
            if next(container.decode(streams[0]), None) is None:
                raise AnnotationError(path, "", f"{kind} stream has no decodable frame")
    except (OSError, av.error.FFmpegError) as err:  # PIL's truncated / unknown image errors are OSErrors
        raise AnnotationError(path, "", f"unreadable {kind}: {err}") from err
    return data


def _to_png(path: Path) -> bytes:
    buf = io.BytesIO()
    with Image.open(path) as img:
        img.save(buf, format="PNG")
    return buf.getvalue()


def _decode_audio(path: Path) -> np.ndarray:
    """Mono float32 waveform (N,) at 16 kHz of the first audio stream of ``path`` (empty if none)."""
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=_AUDIO_RATE)
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


def _transcode_mp4(path: Path) -> bytes:
    """H.264 + AAC (16 kHz mono) mp4 of any PyAV-readable video file."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise AnnotationError(path, "", "no video stream to transcode")
        fps = int(round(float(container.streams.video[0].average_rate or 25)))
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not frames:
        raise AnnotationError(path, "", "video stream has no decodable frames")
    video = np.stack(frames)  # (T, H, W, 3)
    h, w = video.shape[1] // 2 * 2, video.shape[2] // 2 * 2  # yuv420p needs even sizes
    audio = _decode_audio(path)
    return encode_mp4(video[:, :h, :w], fps, audio if audio.size else None, _AUDIO_RATE)
