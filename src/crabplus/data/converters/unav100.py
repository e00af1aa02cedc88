"""UnAV-100 (dense audio-visual event localisation, Geng et al. CVPR 2023) -> task ``unav100``.

Official layout under ``--src`` (the release's ``data/unav100/``)::

    annotations/unav100_annotations.json   (or unav100_annotations.json directly under --src)
                               {"database": {<video_id>: {"subset": "train" | "validation" | "test",
                                "duration": seconds, "annotations": [{"segment": [start_s, end_s],
                                "label": name, "label_id": int}, ...]}, ...}}  (ActivityNet style)
    raw_videos/<video_id>.mp4  the official download script's output (or videos/, or --src itself)

Target ``{"events": [[label, start_s, end_s], ...], "duration"}``, events sorted by (start, end, label).
The split ``val`` reads subset ``validation``; subsets are compared in lower case, as the official loader
does. An event with an empty segment (``zero-length span``) or one reversed or past the video's duration
(``span reversed or outside the clip``) is left out of its video's events and listed in ``skipped.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import as_float, check_split, read_json, require_fields
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import BAD_SPAN, ZERO_LENGTH_SPAN, Sample, Skip

__all__ = ["read_unav100"]

_SUBSETS = {"train": ("train", "training"), "val": ("validation", "val"), "test": ("test", "testing")}


@register("unav100", tasks=("unav100",), splits=tuple(_SUBSETS))
def read_unav100(src: Path, split: str) -> Iterator[Sample | Skip]:
    """UnAV-100: unav100_annotations.json (database -> subset, duration, annotations[segment, label])."""
    check_split(split, tuple(_SUBSETS), "unav100")
    path = find_media([src / "annotations" / "unav100_annotations.json", src / "unav100_annotations.json"])
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(path, "", "expected an object with a 'database' object")
    for vid, rec in data["database"].items():
        where = f"video {vid!r}"
        require_fields(rec, ("subset", "duration", "annotations"), path, where)
        if str(rec["subset"]).lower() not in _SUBSETS[split]:
            continue
        duration = as_float(rec["duration"], "duration", path, where)
        events = []
        for j, ann in enumerate(rec["annotations"]):
            event = _event(ann, path, f"{where}, annotation {j}")
            s, e = event[1], event[2]
            if s == e or not 0 <= s < e <= duration:
                reason = ZERO_LENGTH_SPAN if s == e else BAD_SPAN
                detail = f"{event[0]!r} [{s:g}, {e:g}] in a {duration:g}-s video"
                yield Skip("unav100", (path, f"{where}, annotation {j}"), reason, detail)
                continue
            events.append(event)
        video = find_media(src / d / f"{vid}.mp4" for d in ("raw_videos", "videos", "."))
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
    return [str(ann["label"]), s, e]
