"""Encoding media to the bytes stored in shards: mp4 (H.264 + AAC, in-process via PyAV), wav, png.

Used by the synthetic world and by tests to build real encoded files without the ffmpeg CLI. Decoding lives
in ``decode.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

import av
import numpy as np
import soundfile as sf
from PIL import Image

__all__ = ["encode_mp4", "encode_wav", "encode_png", "encode_mask_png", "zeroed_allocations"]

_AAC_FRAME = 1024


def encode_mp4(
    frames: np.ndarray | None,
    fps: int,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    channels: int = 1,
    crf: int = 18,
) -> bytes:
    """H.264 (yuv420p) + AAC mp4 from ``frames (T, H, W, 3) uint8`` and ``audio (N,)`` or ``(C, N)`` float.

    Either stream may be ``None`` (tests use a video without audio). ``channels`` > 1 duplicates a mono
    signal into that many channels. ``crf`` 18 keeps colours close to the source at these tiny sizes.
    """
    buf = io.BytesIO()
    with zeroed_allocations(), av.open(buf, "w", format="mp4") as container:
        vstream = None
        if frames is not None:
            vstream = container.add_stream("libx264", rate=int(fps), options={"crf": str(crf)})
            vstream.width, vstream.height = int(frames.shape[2]), int(frames.shape[1])
            vstream.pix_fmt = "yuv420p"
            vstream.codec_context.thread_count = 1  # byte-identical output for identical input
        astream = None
        if audio is not None:
            layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
            astream = container.add_stream("aac", rate=int(sample_rate), layout=layout)
        if vstream is not None:
            for img in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(
                    format="yuv420p"
                )
                for packet in vstream.encode(frame):
                    container.mux(packet)
            for packet in vstream.encode():
                container.mux(packet)
        if astream is not None:
            _mux_audio(container, astream, audio, sample_rate, channels)
    return buf.getvalue()


# glibc's mallopt parameter that fills every new allocation with ``~byte`` (and freed memory with ``byte``)
_M_PERTURB = -6


def _libc_mallopt():
    """glibc's ``mallopt`` or None (musl, macOS, Windows: no such knob; there the encoder is left as it is)."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return None
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


_MALLOPT = _libc_mallopt()


@contextmanager
def zeroed_allocations() -> Iterator[None]:
    """Heap memory allocated inside the block starts zeroed (glibc ``M_PERTURB`` = 0xff).

    Why: the H.264 encoder reads heap memory it never wrote (an encode of the same frames gave a different
    mp4 about once in 20 calls, more often beside other processes: the bytes left by earlier allocations
    differ). Fresh memory from the kernel is zero, which is what the usual output saw; zeroing every
    allocation made during an encode makes that output the only one. The user's ``MALLOC_PERTURB_`` is
    restored afterwards.
    """
    if _MALLOPT is None or not _MALLOPT(_M_PERTURB, 0xFF):
        yield
        return
    try:
        yield
    finally:
        _MALLOPT(_M_PERTURB, int(os.environ.get("MALLOC_PERTURB_", "0") or 0) & 0xFF)


def _mux_audio(container, stream, audio: np.ndarray, sample_rate: int, channels: int) -> None:
    wav = np.asarray(audio, dtype=np.float32)
    if wav.ndim == 1:
        wav = np.repeat(wav[None], channels, axis=0)  # (C, N)
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
    for start in range(0, wav.shape[1], _AAC_FRAME):
        chunk = np.ascontiguousarray(wav[:, start : start + _AAC_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = int(sample_rate), start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM wav of ``audio (N,)`` mono or ``(N, C)`` multi-channel float in [-1, 1]."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(audio, dtype=np.float32), int(sample_rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """Lossless png of ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 grey."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def encode_mask_png(mask: np.ndarray) -> bytes:
    """Binary mask ``(H, W)`` bool as an 8-bit grey png (0 / 255), the AVSBench convention."""
    return encode_png(np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8))
