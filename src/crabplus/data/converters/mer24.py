"""MER 2024 (Multimodal Emotion Recognition challenge, Lian et al. 2024; MER-SEMI track) -> task ``mer24``.

Layout read under ``--src`` (the MER2024 release; from memory, the file names are the part I am least sure
of, hence the fallbacks)::

    label-disdim.csv             columns name, discrete [, valence] (the labelled training clips)
        (or label.csv / train.csv)
    video-labeled/<name>.mp4     (a few clips are .avi; also looked for in video/ and videos/)

Split ``test`` reads ``test.csv`` (or ``label-test.csv``) with the same columns, for the separately
released test labels; its clips are looked for in ``video-test/`` too. MER has no official validation
split. ``name`` is the clip id (``sample_00000001``); a name given with its extension is accepted.

Target ``{"label": discrete}`` (lowercased; one of :data:`MER24_EMOTIONS` = the six MER-SEMI classes,
spelled as in the label file as far as I know: neutral, angry, happy, sad, worried, surprise; any other
value is an error naming the row); meta ``{"video_id"}`` (+ ``"valence"`` when the column is present).
Non-mp4 clips are transcoded to H.264 + AAC mp4 when written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import VIDEO_EXTS, find_media
from crabplus.data.converters._readers import as_float, check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_mer24", "MER24_EMOTIONS"]

MER24_EMOTIONS = ("neutral", "angry", "happy", "sad", "worried", "surprise")
_LABEL_FILES = {
    "train": ("label-disdim.csv", "label.csv", "train.csv"),
    "test": ("test.csv", "label-test.csv"),
}
_VIDEO_DIRS = {
    "train": ("video-labeled", "video", "videos"),
    "test": ("video-test", "video-labeled", "video", "videos"),
}


@register("mer24", tasks=("mer24",), splits=tuple(_LABEL_FILES))
def read_mer24(src: Path, split: str) -> Iterator[Sample]:
    """MER2024: label-disdim.csv (name, discrete) + video-labeled/<name>.mp4 (or .avi)."""
    check_split(split, tuple(_LABEL_FILES), "mer24")
    path = find_media(src / name for name in _LABEL_FILES[split])
    for where, row in iter_csv(path, ("name", "discrete")):
        emotion = row["discrete"].lower()
        if emotion not in MER24_EMOTIONS:
            raise AnnotationError(
                path, where, f"field 'discrete' must be one of {MER24_EMOTIONS}, got {row['discrete']!r}"
            )
        name = row["name"]
        stem = Path(name).stem if Path(name).suffix.lower() in VIDEO_EXTS else name
        files = [name] if stem != name else [f"{stem}{ext}" for ext in (".mp4", ".avi")]
        video = find_media(src / d / f for d in _VIDEO_DIRS[split] for f in files)
        meta: dict = {"video_id": stem}
        if row.get("valence"):
            meta["valence"] = as_float(row["valence"], "valence", path, where)
        yield Sample(
            origin=(path, where),
            task="mer24",
            key=stem,
            meta=meta,
            target={"label": emotion},
            media={"video": video},
        )
