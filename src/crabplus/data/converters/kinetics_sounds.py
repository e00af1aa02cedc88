"""Kinetics-Sounds (the audio-relevant Kinetics-400 classes, Arandjelovic & Zisserman 2017) -> task ``ks``.

Kinetics-Sounds has no annotation file of its own: it is a class subset of Kinetics-400 whose clips are
downloaded by the user. Two layouts are read under ``--src``:

1. Kinetics split list (preferred when present): ``<split>.csv`` (``validate.csv`` for ``val``, as the
   Kinetics release names it) with the Kinetics columns ``label, youtube_id, time_start, time_end``
   [, ``split``, ``is_cc``], labels with spaces quoted (``"air drumming"``); restrict it to the
   Kinetics-Sounds classes before converting. Clips at
   ``<split>/<label>/<youtube_id>_<time_start:06d>_<time_end:06d>.mp4`` (the naming of the Kinetics
   downloader; the label folder with spaces or with ``_``) or ``<split>/<youtube_id>_<...>.mp4``.
2. Class folders: ``<split>/<class name>/<clip>.<ext>`` (any video extension in ``VIDEO_EXTS``),
   the class name being the folder name; folders and files are read in sorted order.

Target ``{"label": class name}``; meta ``{"video_id"}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import VIDEO_EXTS, find_media
from crabplus.data.converters._readers import as_float, check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_kinetics_sounds", "iter_class_folders"]

_SPLITS = ("train", "val", "test")


@register("kinetics_sounds", tasks=("ks",), splits=_SPLITS)
def read_kinetics_sounds(src: Path, split: str) -> Iterator[Sample]:
    """Kinetics-Sounds: <split>.csv (label, youtube_id, time_start, time_end) or <split>/<class>/ folders."""
    check_split(split, _SPLITS, "kinetics_sounds")
    listing = find_media(
        [src / f"{split}.csv", src / "validate.csv"] if split == "val" else [src / f"{split}.csv"]
    )
    if listing.is_file():
        yield from _from_csv(src, split, listing)
        return
    for label, video in iter_class_folders(src / split):
        yield Sample(
            origin=(video, ""),
            task="ks",
            key=f"{label}_{video.stem}",
            meta={"video_id": video.stem},
            target={"label": label},
            media={"video": video},
        )


def _from_csv(src: Path, split: str, path: Path) -> Iterator[Sample]:
    for where, row in iter_csv(path, ("label", "youtube_id", "time_start", "time_end")):
        start = int(as_float(row["time_start"], "time_start", path, where))
        end = int(as_float(row["time_end"], "time_end", path, where))
        clip = f"{row['youtube_id']}_{start:06d}_{end:06d}"
        folders = dict.fromkeys((row["label"], row["label"].replace(" ", "_"), ""))
        video = find_media(src / split / folder / f"{clip}.mp4" for folder in folders)
        yield Sample(
            origin=(path, where),
            task="ks",
            key=clip,
            meta={"video_id": clip},
            target={"label": row["label"]},
            media={"video": video},
        )


def iter_class_folders(root: Path) -> Iterator[tuple[str, Path]]:
    """``(class name, video file)`` for ``root/<class>/<clip>.<ext>``, sorted; errors if none found."""
    if not root.is_dir():
        raise AnnotationError(root, "", "split folder not found (expected <split>/<class>/<clip>.mp4)")
    found = 0
    for cls in sorted(p for p in root.iterdir() if p.is_dir()):
        for video in sorted(p for p in cls.iterdir() if p.suffix.lower() in VIDEO_EXTS):
            found += 1
            yield cls.name, video
    if not found:
        raise AnnotationError(root, "", f"no videos ({', '.join(VIDEO_EXTS)}) in any class folder")
