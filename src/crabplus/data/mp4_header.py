"""A clip's duration from its mp4 header alone (the ``moov/mvhd`` box), without opening a decoder.

Why: choosing how to decode a clip (decord reads a frame index over the whole file, which a 10-minute clip
pays for; PyAV can seek to the few frames sampled) needs the length first, and a PyAV probe costs 2 ms a
sample. Walking the box headers of an ISO base-media file costs microseconds.
"""

from __future__ import annotations

import io
import os
import struct

__all__ = ["mp4_seconds"]


def mp4_seconds(src: str | os.PathLike | bytes) -> float | None:
    """Duration in seconds from ``moov/mvhd``, or None for anything that is not a readable mp4 header."""
    try:
        if isinstance(src, bytes | bytearray | memoryview):
            return _movie_seconds(io.BytesIO(bytes(src)))
        with open(src, "rb") as f:
            return _movie_seconds(f)
    except (OSError, struct.error, ValueError):
        return None


def _boxes(f, end: int | None):
    """(type, payload start, payload end) of each box from ``f``'s position up to ``end`` (None: EOF)."""
    while end is None or f.tell() + 8 <= end:
        start = f.tell()
        header = f.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        if size == 1:  # 64-bit size follows
            size = struct.unpack(">Q", f.read(8))[0]
        elif size == 0:  # the box runs to the end of its parent
            size = (end if end is not None else f.seek(0, io.SEEK_END)) - start
        if size < 8:
            raise ValueError(f"box {kind!r} of size {size}")
        yield kind, f.tell(), start + size
        f.seek(start + size)


def _movie_seconds(f) -> float | None:
    for kind, _, moov_end in _boxes(f, None):
        if kind != b"moov":
            continue
        for child, payload, _ in _boxes(f, moov_end):
            if child != b"mvhd":
                continue
            f.seek(payload)
            version = f.read(1)[0]
            f.seek(3 + (16 if version == 1 else 8), io.SEEK_CUR)  # flags, creation + modification times
            scale, duration = struct.unpack(
                ">IQ" if version == 1 else ">II", f.read(12 if version == 1 else 8)
            )
            return duration / scale if scale else None
        return None
    return None
