"""Video -> audio matching (Crab+ v2a), built from labelled AV clips -> task ``v2a``.

There is no v2a dataset to download: pairs are made from any folder of labelled audio-visual clips, read
under ``--src`` as ``labels.csv`` + ``clips/`` or as ``<split>/<label>/`` class folders (``_av_matching``:
layouts, seeded pairing, media lengths). For each clip (the query) a partner clip of another label is drawn.
The sample's audio is the two clips' first ``seg`` seconds one after the other (wav), its video the
query's own ``seg`` seconds (silent mp4). Target ``{"label": "one" | "two"}`` (which clip of the audio
matches the video); meta ``{"video_id", "candidates" (keys in audio order), "options": ["one", "two"],
"segment_seconds"}``.
"""

from __future__ import annotations

import numpy as np

from crabplus.data.converters import _av_matching as matching

__all__ = ["read_v2a"]


def _compose(
    query: matching.Decoded, pair: list[matching.Decoded], seg: float
) -> dict[str, tuple[str, bytes]]:
    audio = np.concatenate([matching.audio_segment(c, seg) for c in pair])
    video = matching.video_segment(query, seg, matching.frame_size(query))
    return {"video": matching.mp4(video), "audio": matching.wav(audio)}


read_v2a = matching.register_matching("v2a", _compose)
