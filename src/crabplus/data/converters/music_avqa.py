"""MUSIC-AVQA (Li et al. CVPR 2022) -> task ``music_avqa``.

Official layout under ``--src``::

    avqa-train.json avqa-val.json avqa-test.json     (or json/avqa-*.json)
    MUSIC-AVQA-videos-Real/<video_id>.mp4            (also MUSIC-AVQA-videos-Synthetic/, videos/, or src/)

Each JSON record: ``video_id``, ``question_id``, ``type`` (a JSON-encoded list such as
``"[\\"Audio-Visual\\", \\"Existential\\"]"``), ``question_content`` (a template such as
``"Is there a <Object> sound?"``), ``templ_values`` (JSON-encoded list filling the ``<...>`` slots in
order), ``anser`` (sic: the answer).

Target ``{"answer", "type"}``; ``type`` is the two type names joined by ``/`` (``"Audio-Visual/Existential"``),
the grouping MUSIC-AVQA reports accuracy by. Meta: ``question`` (template filled), ``question_id``, ``video_id``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, read_json, require_fields
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_music_avqa", "fill_template"]

_SPLITS = ("train", "val", "test")
_FIELDS = ("video_id", "question_id", "type", "question_content", "templ_values", "anser")
_SLOT = re.compile(r"<[^<>]+>")
_VIDEO_DIRS = ("MUSIC-AVQA-videos-Real", "MUSIC-AVQA-videos-Synthetic", "videos", ".")


@register("music_avqa", tasks=("music_avqa",), splits=_SPLITS)
def read_music_avqa(src: Path, split: str) -> Iterator[Sample]:
    """MUSIC-AVQA: avqa-{train,val,test}.json (question_content, templ_values, anser, type) + videos."""
    check_split(split, _SPLITS, "music_avqa")
    name = f"avqa-{split}.json"
    path = (
        src / name if (src / name).is_file() or not (src / "json" / name).is_file() else src / "json" / name
    )
    records = read_json(path)
    if not isinstance(records, list):
        raise AnnotationError(path, "", f"expected a JSON list of questions, got {type(records).__name__}")
    for i, rec in enumerate(records):
        where = f"record {i}"
        require_fields(rec, _FIELDS, path, where)
        vid = str(rec["video_id"])
        types = _json_list(rec["type"], "type", path, where)
        question = fill_template(
            rec["question_content"], _json_list(rec["templ_values"], "templ_values", path, where)
        )
        if question is None:
            raise AnnotationError(
                path, where, "templ_values do not match the <...> slots of question_content"
            )
        video = find_media([src / d / f"{vid}.mp4" for d in _VIDEO_DIRS])
        yield Sample(
            origin=(path, where),
            task="music_avqa",
            key=f"{vid}_{rec['question_id']}",
            meta={"question": question, "question_id": rec["question_id"], "video_id": vid},
            target={"answer": str(rec["anser"]), "type": "/".join(types)},
            media={"video": video},
        )


def fill_template(template: str, values: list[Any]) -> str | None:
    """``template`` with its ``<...>`` slots replaced in order by ``values``; ``None`` if counts differ."""
    if len(_SLOT.findall(template)) != len(values):
        return None
    it = iter(values)
    return _SLOT.sub(lambda _m: str(next(it)), template).strip()


def _json_list(value: Any, name: str, path: Path, where: str) -> list[Any]:
    """A list field that MUSIC-AVQA stores JSON-encoded (``"[\\"cello\\"]"``); plain lists pass through."""
    if isinstance(value, list):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        try:
            parsed = ast.literal_eval(value)  # the reference loader's parser (single quotes also occur)
        except (ValueError, SyntaxError):
            parsed = None
    if not isinstance(parsed, list):
        raise AnnotationError(path, where, f"field {name!r} is not a (JSON-encoded) list: {value!r}")
    return parsed
