"""Shared reading of the AVSBench-object S4 layout (used by ``s4`` and ``arig``) and mask helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._readers import iter_csv

__all__ = [
    "S4Frame",
    "iter_s4_frames",
    "mask_box",
    "first_column",
    "data_root",
    "AVSBENCH_SPLITS",
    "S4_FRAMES",
]

AVSBENCH_SPLITS = ("train", "val", "test")
S4_FRAMES = 5


@dataclass(frozen=True)
class S4Frame:
    """One annotated S4 frame: video ``name``, ``category``, 1-based ``index``, its files, csv ``origin``."""

    name: str
    category: str
    index: int
    frame: Path
    mask: Path
    audio: Path
    origin: tuple[Path, str]


def data_root(src: Path, sub: str) -> Path:
    """``src/<sub>`` (e.g. ``s4_data``) if it exists, else ``src`` itself."""
    return src / sub if (src / sub).is_dir() else src


def iter_s4_frames(src: Path, split: str) -> Iterator[S4Frame]:
    """Annotated frames of one S4 split: ``s4_meta_data.csv`` + ``s4_data/``, as the official loader reads them.

    The video name is the csv's first column (the loader reads it by position), ``category`` and
    ``split`` are read by name. Annotated frames: ``1`` in train, ``1..5`` in val / test (the loader's
    ``mask_num``). Files: ``visual_frames/<split>/<category>/<name>/<name>_<i>.png``,
    ``gt_masks/<split>/<category>/<name>/<name>_<i>.png``, ``audio_wav/<split>/<category>/<name>.wav``;
    their existence is checked when written (a missing one makes the frame a ``missing media`` skip).
    """
    path = src / "s4_meta_data.csv"
    root = data_root(src, "s4_data")
    for where, row in iter_csv(path, ("category", "split")):
        if row["split"] != split:
            continue
        name, cat = first_column(row, path, where), row["category"]
        audio = root / "audio_wav" / split / cat / f"{name}.wav"
        for i in range(1, (1 if split == "train" else S4_FRAMES) + 1):
            frame = root / "visual_frames" / split / cat / name / f"{name}_{i}.png"
            mask = root / "gt_masks" / split / cat / name / f"{name}_{i}.png"
            yield S4Frame(name, cat, i, frame, mask, audio, (path, where))


def first_column(row: dict[str, str], path: Path, where: str) -> str:
    """The value of a csv row's first column (AVSBench's loaders read the video name by position)."""
    name = next(iter(row.values()), "")
    if not name:
        raise AnnotationError(path, where, "empty video name in the first column")
    return name


def mask_box(mask: Path) -> list[float] | None:
    """Normalised ``[x1, y1, x2, y2]`` (0-1, x2/y2 exclusive) of a mask's non-zero pixels; ``None`` if empty."""
    with Image.open(mask) as img:
        arr = np.asarray(img.convert("L")) > 0  # (H, W)
    if not arr.any():
        return None
    h, w = arr.shape
    ys, xs = np.nonzero(arr)
    return [
        round(xs.min() / w, 4),
        round(ys.min() / h, 4),
        round((xs.max() + 1) / w, 4),
        round((ys.max() + 1) / h, 4),
    ]
