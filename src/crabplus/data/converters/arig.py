"""ARIG (audio-referred image grounding) from the AVSBench-object S4 layout -> task ``arig``.

There is no separate ARIG release: Crab built it from S4 frames and masks. This converter reads the S4
layout exactly as ``s4`` does (see :mod:`crabplus.data.converters.s4`: ``s4_meta_data.csv`` columns
name, category, split + ``s4_data/``) and turns each non-empty mask into the tight box of its non-zero
pixels, normalised to 0-1 by the mask size. Frames whose mask is empty (no sounding object), missing or
unreadable are skipped, counted by reason (``empty mask``, ``missing media``, ``unreadable media``).

Target ``{"label": category, "box": [x1, y1, x2, y2]}``; media ``png`` (frame) + ``wav`` (5-s audio).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._avsbench import AVSBENCH_SPLITS, S4_FRAMES, iter_s4_frames, mask_box
from crabplus.data.converters._readers import check_split
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import MISSING_MEDIA, UNREADABLE_MEDIA, Sample, Skip

__all__ = ["read_arig", "EMPTY_MASK"]

EMPTY_MASK = "empty mask"


@register("arig", tasks=("arig",), splits=AVSBENCH_SPLITS)
def read_arig(src: Path, split: str) -> Iterator[Sample | Skip]:
    """ARIG: boxes of the S4 masks (s4_meta_data.csv + s4_data/), empty masks skipped."""
    check_split(split, AVSBENCH_SPLITS, "arig")
    for f in iter_s4_frames(src, split):
        if not f.mask.is_file():
            yield Skip("arig", f.origin, MISSING_MEDIA, str(f.mask))
            continue
        try:
            box = mask_box(f.mask)
        except OSError as err:  # PIL's UnidentifiedImageError is an OSError
            yield Skip("arig", f.origin, UNREADABLE_MEDIA, f"{f.mask}: {err}")
            continue
        if box is None:
            yield Skip("arig", f.origin, EMPTY_MASK, f"{f.mask.name}: no sounding object")
            continue
        yield Sample(
            origin=f.origin,
            task="arig",
            key=f"{f.name}_{f.index}",
            meta={"video_id": f.name, "frame": f.index - 1, "num_frames": S4_FRAMES},
            target={"label": f.category, "box": box},
            media={"image": f.frame, "audio": f.audio},
        )
