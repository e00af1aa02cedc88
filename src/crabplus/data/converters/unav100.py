"""UnAV-100 (dense audio-visual event localisation, Geng et al. CVPR 2023) -> task ``unav100``.

Official layout under ``--src``::

    unav100_annotations.json   {"database": {<video_id>: {"subset": "train" | "validation" | "test",
                                "duration": seconds, "annotations": [{"segment": [start_s, end_s],
                                "label": name, "label_id": int}, ...]}, ...}}  (ActivityNet style)
    videos/<video_id>.mp4      (or <video_id>.mp4 directly under --src)

Target ``{"events": [[label, start_s, end_s], ...], "duration"}``, events sorted by start time. The split
``val`` reads subset ``validation`` (``val`` is also accepted in the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import as_float, check_split, read_json, require_fields
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_unav100"]

_SUBSETS = {"train": ("train", "training"), "val": ("validation", "val"), "test": ("test", "testing")}


@register("unav100", tasks=("unav100",), splits=tuple(_SUBSETS))
def read_unav100(src: Path, split: str) -> Iterator[Sample]:
    """UnAV-100: unav100_annotations.json (database -> subset, duration, annotations[segment, label])."""
    check_split(split, tuple(_SUBSETS), "unav100")
    path = src / "unav100_annotations.json"
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(path, "", "expected an object with a 'database' object")
    for vid, rec in data["database"].items():
        where = f"video {vid!r}"
        require_fields(rec, ("subset", "duration", "annotations"), path, where)
        if rec["subset"] not in _SUBSETS[split]:
            continue
        duration = as_float(rec["duration"], "duration", path, where)
        events = [_event(a, path, f"{where}, annotation {j}") for j, a in enumerate(rec["annotations"])]
        video = find_media([src / "videos" / f"{vid}.mp4", src / f"{vid}.mp4"])
        yield Sample(
            origin=(path, where),
            task="unav100",
            key=vid,
            meta={"video_id": vid},
            target={"events": sorted(events, key=lambda e: (e[1], e[2], e[0])), "duration": duration},
            media={"video": video},
        )


def _event(ann: Any, path: Path, where: str) -> list[Any]:
    require_fields(ann, ("segment", "label"), path, where)
    seg = ann["segment"]
    if not isinstance(seg, list) or len(seg) != 2:
        raise AnnotationError(path, where, f"field 'segment' must be [start_s, end_s], got {seg!r}")
    s, e = as_float(seg[0], "segment", path, where), as_float(seg[1], "segment", path, where)
    if not 0 <= s <= e:
        raise AnnotationError(path, where, f"bad segment [{s}, {e}]")
    return [str(ann["label"]), s, e]
