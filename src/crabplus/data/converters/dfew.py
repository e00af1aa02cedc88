"""DFEW (Dynamic Facial Expression in the Wild, Jiang et al. ACM MM 2020) -> task ``dfew``.

Official layout under ``--src`` (the DFEW release; the clip folder name is from memory)::

    EmoLabel_DataSplit/train(single-labeled)/set_<k>.csv    k = 1..5, columns video_name, label
    EmoLabel_DataSplit/test(single-labeled)/set_<k>.csv     (``train_single-labeled/`` is accepted too)
    Clip/original/<video_name>.mp4     video_name zero-padded to 5 digits (00001.mp4); the unpadded
                                       name, .avi clips and a flat clips/ or original/ folder are
                                       accepted too

DFEW is evaluated by 5-fold cross-validation: splits ``train`` / ``test`` are fold 1, ``train2`` ...
``test5`` the others. ``label`` is an id 1-7: 1 happy, 2 sad, 3 neutral, 4 angry, 5 surprise, 6 disgust,
7 fear (0, "not single-labelled", never appears in the single-labelled split files and is an error).

Target ``{"label": emotion name}``; meta ``{"video_id"}`` (the 5-digit name). Non-mp4 clips are transcoded
to H.264 + AAC mp4 when written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_dfew", "DFEW_EMOTIONS"]

#: Label id (as written in the split csvs) -> emotion name.
DFEW_EMOTIONS = {
    "1": "happy",
    "2": "sad",
    "3": "neutral",
    "4": "angry",
    "5": "surprise",
    "6": "disgust",
    "7": "fear",
}
_SPLITS = tuple(f"{kind}{fold}" for fold in ("", "2", "3", "4", "5") for kind in ("train", "test"))
_CLIP_DIRS = ("Clip/original", "Clip", "clips", "original")


@register("dfew", tasks=("dfew",), splits=_SPLITS)
def read_dfew(src: Path, split: str) -> Iterator[Sample]:
    """DFEW: EmoLabel_DataSplit/{train,test}(single-labeled)/set_<k>.csv (video_name, label 1-7) + Clip/original/."""
    check_split(split, _SPLITS, "dfew")
    kind, fold = split.rstrip("2345"), split[-1] if split[-1] in "2345" else "1"
    labels = src / "EmoLabel_DataSplit"
    path = find_media(
        labels / d / f"set_{fold}.csv" for d in (f"{kind}(single-labeled)", f"{kind}_single-labeled")
    )
    for where, row in iter_csv(path, ("video_name", "label")):
        label_id = row["label"].split(".")[0]  # pandas-written copies may hold "3.0"
        if label_id not in DFEW_EMOTIONS:
            raise AnnotationError(path, where, f"field 'label' must be an id 1-7, got {row['label']!r}")
        raw = Path(row["video_name"]).stem
        name = f"{int(raw):05d}" if raw.isdigit() else raw
        names = dict.fromkeys((name, raw))  # padded first, then as written
        video = find_media(
            src / d / f"{n}{ext}" for d in _CLIP_DIRS for n in names for ext in (".mp4", ".avi")
        )
        yield Sample(
            origin=(path, where),
            task="dfew",
            key=name,
            meta={"video_id": name},
            target={"label": DFEW_EMOTIONS[label_id]},
            media={"video": video},
        )
