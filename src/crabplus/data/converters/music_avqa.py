"""MUSIC-AVQA (Li et al. CVPR 2022) -> task ``music_avqa``.

Official layout under ``--src`` (the repository's ``data/`` folder plus the videos)::

    json_update/avqa-{train,val,test}.json           the corrected annotations (preferred)
    json/avqa-{train,val,test}.json                  the original release (or avqa-*.json directly)
    MUSIC-AVQA-videos-Real/<video_id>.mp4            (also MUSIC-AVQA-videos-Synthetic/, video/, videos/,
                                                     or --src itself)

Decision: the corrected ``json_update/`` files are read when present (the authors fixed annotation errors
there: the original files hold the same (video, question) twice with different answers); the original
``json/`` files are read only when ``json_update/`` is absent. In the original files such conflicting
pairs are skipped (``duplicate key with conflicting annotation``: neither answer can be trusted).

Each JSON record: ``video_id``, ``question_id``, ``type`` (a JSON-encoded list such as
``"[\\"Audio-Visual\\", \\"Existential\\"]"``), ``question_content`` (a template such as
``"Is there a <Object> sound?"``), ``templ_values`` (JSON-encoded list filling the ``<...>`` slots in
order), ``anser`` (sic: the answer).

Target ``{"answer", "type"}``; ``type`` is the two type names joined by ``/`` (``"Audio-Visual/Existential"``),
the grouping MUSIC-AVQA reports accuracy by. Meta: ``question`` (template filled, full-width punctuation such
as the ``？`` of the counting questions made ASCII), ``question_id``, ``video_id``. A question whose
``templ_values`` do not fill its ``<...>`` slots is skipped (``template values do not fit``).
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
from crabplus.data.converters._readers import check_split, clean_text, read_json, require_fields
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample, Skip

__all__ = ["read_music_avqa", "fill_template"]

_SPLITS = ("train", "val", "test")
_FIELDS = ("video_id", "question_id", "type", "question_content", "templ_values", "anser")
_SLOT = re.compile(r"<[^<>]+>")
_VIDEO_DIRS = ("MUSIC-AVQA-videos-Real", "MUSIC-AVQA-videos-Synthetic", "video", "videos", ".")
_ANNOTATION_DIRS = ("json_update", ".", "json")  # corrected files first
TEMPLATE_MISMATCH = "template values do not fit"


@register("music_avqa", tasks=("music_avqa",), splits=_SPLITS)
def read_music_avqa(src: Path, split: str) -> Iterator[Sample | Skip]:
    """MUSIC-AVQA: json_update/ (else json/) avqa-{train,val,test}.json (question_content, anser, type) + videos."""
    check_split(split, _SPLITS, "music_avqa")
    path = find_media(src / d / f"avqa-{split}.json" for d in _ANNOTATION_DIRS)
    records = read_json(path)
    if not isinstance(records, list):
        raise AnnotationError(path, "", f"expected a JSON list of questions, got {type(records).__name__}")
    for i, rec in enumerate(records):
        where = f"record {i}"
        require_fields(rec, _FIELDS, path, where)
        vid = str(rec["video_id"])
        types = _json_list(rec["type"], "type", path, where)
        values = _json_list(rec["templ_values"], "templ_values", path, where)
        question = fill_template(clean_text(rec["question_content"]), values)
        if question is None:
            detail = f"{values!r} for {rec['question_content']!r}"
            yield Skip("music_avqa", (path, where), TEMPLATE_MISMATCH, detail)
            continue
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
