"""MAFW (Multi-modal Affective database in the Wild, Liu et al. ACM MM 2022) -> task ``mafw``.

Official layout under ``--src`` (the MAFW release)::

    data/clips/<clip>.mp4                                      10,045 clips, e.g. 00025.mp4 (or clips/)
    Train & Test Set/single/no_caption/set_<k>/train.txt       k = 1..5, one line per clip:
    Train & Test Set/single/no_caption/set_<k>/test.txt            "<clip file> <emotion>", e.g. "00025.mp4 anger"

(``anno/single/no_caption/set_<k>/{train,test}.txt`` is accepted too; fields may also be comma-separated.)
Only the single-label protocol is read; the compound-label sets and ``Labels/*.xlsx`` are not.

MAFW is evaluated by 5-fold cross-validation: splits ``train`` / ``test`` are fold 1, ``train2`` ...
``test5`` the others. The emotion is one of the 11 classes :data:`MAFW_EMOTIONS` (anger, disgust, fear,
happiness, neutral, sadness, surprise, contempt, anxiety, helplessness, disappointment); anything else is
an error naming the line.

Target ``{"label": emotion}``; meta ``{"video_id"}``. Non-mp4 clips are transcoded to mp4 when written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_lines
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_mafw", "MAFW_EMOTIONS"]

MAFW_EMOTIONS = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
    "contempt",
    "anxiety",
    "helplessness",
    "disappointment",
)
_SPLITS = tuple(f"{kind}{fold}" for fold in ("", "2", "3", "4", "5") for kind in ("train", "test"))
_ANNO_DIRS = ("Train & Test Set/single/no_caption", "anno/single/no_caption")
_CLIP_DIRS = ("data/clips", "clips")
_SEP = re.compile(r"[,\s]+")


@register("mafw", tasks=("mafw",), splits=_SPLITS)
def read_mafw(src: Path, split: str) -> Iterator[Sample]:
    """MAFW: Train & Test Set/single/no_caption/set_<k>/{train,test}.txt ("<clip> <emotion>") + data/clips/."""
    check_split(split, _SPLITS, "mafw")
    kind, fold = split.rstrip("2345"), split[-1] if split[-1] in "2345" else "1"
    path = find_media(src / d / f"set_{fold}" / f"{kind}.txt" for d in _ANNO_DIRS)
    for where, line in iter_lines(path):
        parts = _SEP.split(line)
        if len(parts) != 2:
            raise AnnotationError(path, where, f"expected '<clip file> <emotion>', got {line!r}")
        clip, emotion = parts[0], parts[1].lower()
        if emotion not in MAFW_EMOTIONS:
            raise AnnotationError(path, where, f"emotion must be one of {MAFW_EMOTIONS}, got {parts[1]!r}")
        stem = Path(clip).stem
        files = [clip] if Path(clip).suffix else [f"{clip}.mp4", f"{clip}.avi"]
        video = find_media(src / d / f for d in _CLIP_DIRS for f in files)
        yield Sample(
            origin=(path, where),
            task="mafw",
            key=stem,
            meta={"video_id": stem},
            target={"label": emotion},
            media={"video": video},
        )
