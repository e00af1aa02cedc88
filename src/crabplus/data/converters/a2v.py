"""Audio -> video matching (Crab+ a2v), built from labelled AV clips -> task ``a2v``.

There is no a2v dataset to download: pairs are made from any folder of labelled audio-visual clips, read
under ``--src`` as ``labels.csv`` + ``clips/`` or as ``<split>/<label>/`` class folders (``_av_matching``:
layouts, seeded pairing, media lengths). For each clip (the query) a partner clip of another label is drawn.
The sample's video is the two clips' first ``seg`` seconds one after the other (silent mp4), its audio the
query's own ``seg`` seconds (wav). Target ``{"label": "one" | "two"}`` (which clip of the video matches the
audio); meta ``{"video_id", "candidates" (keys in video order), "options": ["one", "two"],
"segment_seconds"}``.
"""

from __future__ import annotations

import numpy as np

from crabplus.data.converters import _av_matching as matching

__all__ = ["read_a2v"]


def _compose(
    query: matching.Decoded, pair: list[matching.Decoded], seg: float
) -> dict[str, tuple[str, bytes]]:
    size = matching.frame_size(query)
    video = np.concatenate([matching.video_segment(c, seg, size) for c in pair])
    return {"video": matching.mp4(video), "audio": matching.wav(matching.audio_segment(query, seg))}


read_a2v = matching.register_matching("a2v", _compose)
