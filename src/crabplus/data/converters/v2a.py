"""Video -> audio matching (Crab+ v2a), built from labelled AV clips -> task ``v2a``.

There is no v2a dataset to download: pairs are made from any folder of labelled audio-visual clips
(rules, seeding and media lengths in ``_av_matching``), read under ``--src`` in one of two layouts::

    labels.csv                    columns clip, label [, split]    (without split: only --split all)
    clips/<clip>.mp4              (any of .mp4 .avi .mkv .webm .flv .mov)
or
    <split>/<label>/<clip>.mp4    class folders (e.g. a Kinetics-Sounds or UCF101-style tree)

For each clip (the query) a partner clip of another label is drawn (seeded); the sample's video is the
query's first ``seg`` seconds (silent mp4), its audio the two clips' first ``seg`` seconds one after the
other (wav). Target ``{"label": "one" | "two"}`` (which clip of the audio matches the video); meta
``{"video_id", "candidates" (keys in audio order), "options": ["one", "two"], "segment_seconds"}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from crabplus.data.converters import _av_matching as matching
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_v2a"]


@register("v2a", tasks=("v2a",), splits=matching.MATCH_SPLITS)
def read_v2a(src: Path, split: str) -> Iterator[Sample]:
    """V2A pairs from labelled AV clips: labels.csv (clip, label[, split]) + clips/, or <split>/<label>/ folders."""
    yield from matching.read_matching("v2a", src, split, _compose)


def _compose(
    query: matching.Decoded, pair: list[matching.Decoded], seg: float
) -> dict[str, tuple[str, bytes]]:
    audio = np.concatenate([matching.audio_segment(c, seg) for c in pair])
    return {
        "video": matching.mp4(matching.video_segment(query, seg, matching.frame_size(query))),
        "audio": matching.wav(audio),
    }
