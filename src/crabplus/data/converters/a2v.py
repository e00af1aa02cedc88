"""Audio -> video matching (Crab+ a2v), built from labelled AV clips -> task ``a2v``.

There is no a2v dataset to download: pairs are made from any folder of labelled audio-visual clips
(rules, seeding and media lengths in ``_av_matching``), read under ``--src`` in one of two layouts::

    labels.csv                    columns clip, label [, split]    (without split: only --split all)
    clips/<clip>.mp4              (any of .mp4 .avi .mkv .webm .flv .mov)
or
    <split>/<label>/<clip>.mp4    class folders (e.g. a Kinetics-Sounds or UCF101-style tree)

For each clip (the query) a partner clip of another label is drawn (seeded); the sample's video is the two
clips' first ``seg`` seconds one after the other (silent mp4), its audio the query's own ``seg`` seconds
(wav). Target ``{"label": "one" | "two"}`` (which clip of the video matches the audio); meta
``{"video_id", "candidates" (keys in video order), "options": ["one", "two"], "segment_seconds"}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from crabplus.data.converters import _av_matching as matching
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_a2v"]


@register("a2v", tasks=("a2v",), splits=matching.MATCH_SPLITS)
def read_a2v(src: Path, split: str) -> Iterator[Sample]:
    """A2V pairs from labelled AV clips: labels.csv (clip, label[, split]) + clips/, or <split>/<label>/ folders."""
    yield from matching.read_matching("a2v", src, split, _compose)


def _compose(
    query: matching.Decoded, pair: list[matching.Decoded], seg: float
) -> dict[str, tuple[str, bytes]]:
    size = matching.frame_size(query)
    video = np.concatenate([matching.video_segment(c, seg, size) for c in pair])
    return {"video": matching.mp4(video), "audio": matching.wav(matching.audio_segment(query, seg))}
