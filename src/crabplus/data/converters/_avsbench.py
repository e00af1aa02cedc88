"""Shared reading of the AVSBench-object S4 layout (used by ``s4`` and ``arig``) and mask helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import iter_csv

__all__ = ["S4Frame", "iter_s4_frames", "mask_box", "AVSBENCH_SPLITS"]

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
    """Annotated frames of one S4 split: ``s4_meta_data.csv`` (name, category, split) + ``s4_data/``.

    Files: ``visual_frames/<split>/<category>/<name>/<name>_<i>.png`` (i = 1..5),
    ``gt_masks/<split>/<category>/<name>/<name>_<i>.png`` (train: i = 1 only; val/test: 1..5),
    ``audio_wav/<split>/<category>/<name>.wav``.
    """
    path = src / "s4_meta_data.csv"
    root = data_root(src, "s4_data")
    for where, row in iter_csv(path, ("name", "category", "split")):
        if row["split"] != split:
            continue
        name, cat = row["name"], row["category"]
        audio = find_media([root / "audio_wav" / split / cat / f"{name}.wav"])
        masks = [
            (i, root / "gt_masks" / split / cat / name / f"{name}_{i}.png") for i in range(1, S4_FRAMES + 1)
        ]
        masks = [(i, m) for i, m in masks if m.is_file()]
        if not masks:
            raise AnnotationError(
                path, where, f"no gt_masks/{split}/{cat}/{name}/{name}_<i>.png found under {root}"
            )
        for i, mask in masks:
            frame = find_media([root / "visual_frames" / split / cat / name / f"{name}_{i}.png"])
            yield S4Frame(name, cat, i, frame, mask, audio, (path, where))


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
