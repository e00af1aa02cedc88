"""AV-UIE v2 (the Crab+ instruction data, ``AVUIE_2`` on the Hugging Face hub) -> several tasks.

Released layout under ``--src`` (the folder holding ``AVUIE_2/``, or ``AVUIE_2/`` itself)::

    AVUIE_2/<t>/train.json, AVUIE_2/<t>/test.json     a JSON list of records per task folder <t>
    AVUIE_2/<t>/video/<video_path>, AVUIE_2/<t>/audio/<audio_path>

Record fields read (as the Crab+ loader ``omni_dataset.py`` reads them) and the task each folder becomes:

=========  ===========  =====================================================================
folder     task         fields -> target / meta / reasoning
=========  ===========  =====================================================================
ks         ks           action -> label; label = answer text
ucf        ucf101       label -> label; new_label = answer text
meld       meld         Emotion -> label (lower case); label = answer text
cremad     cremad       emotion -> label; label = answer text
avqa       music_avqa   answer, type -> target; question, question_id, video_id -> meta; label
avqa_thu   avqa         answer -> target; question_text, multi_choice -> meta question, options; label
ave        ave          event, start_time, end_time -> label, segments (10-s clip); label_content
avcap      avcap        label_content -> text (the caption; no reasoning)
=========  ===========  =====================================================================

Every record also needs ``video_path`` and ``audio_path``; both files are stored (``mp4`` + the audio
file; the shard reader takes audio from the audio file). ``reasoning`` holds the record's full answer
text verbatim (its reasoning style is not documented). The Crab v1 AV-UIE records of AVE and MUSIC-AVQA
use the same field names and are read the same way when laid out like this.

Not converted (folders present are reported with a warning): a2v, v2a, mer24, mafw, dfew (convert them from
their own layouts: ``a2v``, ``v2a``, ``mer24``, ``mafw``, ``dfew``)
and unav, avvp, s4, ms3, arig, ref_avs, whose records carry only answer text, no structured target:
convert those from their datasets' own layouts (``unav100``, ``avvp``, ``s4``, ...).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import as_float, read_json, require_fields
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_avuie", "AVUIE_FOLDERS", "AVUIE_UNSUPPORTED"]

Built = tuple[dict[str, Any], dict[str, Any], str | None]  # (target, meta, reasoning)


@dataclass(frozen=True)
class _Folder:
    task: str
    fields: tuple[str, ...]
    build: Callable[[dict[str, Any], Path, str], Built]
    ident: str  # record field naming the sample in its key


def _label(field: str, answer: str, lower: bool = False) -> Callable[[dict[str, Any], Path, str], Built]:
    def build(rec: dict[str, Any], _path: Path, _where: str) -> Built:
        label = str(rec[field])
        return {"label": label.lower() if lower else label}, {}, str(rec[answer])

    return build


def _music_avqa(rec: dict[str, Any], _path: Path, _where: str) -> Built:
    kind = rec["type"]
    kind = "/".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    meta = {"question": rec["question"], "question_id": rec["question_id"], "video_id": rec["video_id"]}
    return {"answer": str(rec["answer"]), "type": kind}, meta, str(rec["label"])


def _avqa(rec: dict[str, Any], _path: Path, _where: str) -> Built:
    meta = {"question": rec["question_text"], "options": rec["multi_choice"], "video_id": rec["video_id"]}
    return {"answer": rec["answer"]}, meta, str(rec["label"])


def _ave(rec: dict[str, Any], path: Path, where: str) -> Built:
    s, e = (
        as_float(rec["start_time"], "start_time", path, where),
        as_float(rec["end_time"], "end_time", path, where),
    )
    if not 0 <= s < e <= 10.0:
        raise AnnotationError(path, where, f"bad event span start_time={s}, end_time={e} for a 10-s clip")
    target = {"label": str(rec["event"]), "segments": [[s, e]], "duration": 10.0}
    return target, {"video_id": rec["vid"]}, str(rec["label_content"])


def _avcap(rec: dict[str, Any], _path: Path, _where: str) -> Built:
    return {"text": str(rec["label_content"])}, {"video_id": rec["video_id"]}, None


AVUIE_FOLDERS: dict[str, _Folder] = {
    "ks": _Folder("ks", ("action", "label"), _label("action", "label"), "video_path"),
    "ucf": _Folder("ucf101", ("label", "new_label"), _label("label", "new_label"), "video_path"),
    "meld": _Folder("meld", ("Emotion", "label"), _label("Emotion", "label", lower=True), "video_path"),
    "cremad": _Folder("cremad", ("emotion", "label"), _label("emotion", "label"), "video_path"),
    "avqa": _Folder(
        "music_avqa",
        ("video_id", "question_id", "type", "question", "answer", "label"),
        _music_avqa,
        "question_id",
    ),
    "avqa_thu": _Folder(
        "avqa", ("video_id", "question_text", "multi_choice", "answer", "label"), _avqa, "id"
    ),
    "ave": _Folder("ave", ("event", "vid", "start_time", "end_time", "label_content"), _ave, "vid"),
    "avcap": _Folder("avcap", ("video_id", "label_content"), _avcap, "video_id"),
}
AVUIE_UNSUPPORTED = ("a2v", "v2a", "mer24", "mafw", "dfew", "unav", "avvp", "s4", "ms3", "arig", "ref_avs")


@register("avuie", tasks=tuple(f.task for f in AVUIE_FOLDERS.values()), splits=("train", "test"))
def read_avuie(src: Path, split: str) -> Iterator[Sample]:
    """AV-UIE v2: AVUIE_2/<task>/{train,test}.json records + <task>/video/, <task>/audio/ files."""
    root = src / "AVUIE_2" if (src / "AVUIE_2").is_dir() else src
    if not root.is_dir():
        raise AnnotationError(root, "", "AV-UIE folder not found")
    present = [d for d in AVUIE_UNSUPPORTED if (root / d / f"{split}.json").is_file()]
    if present:
        warnings.warn(f"AV-UIE: not converting {present} (see crabplus.data.converters.avuie)", stacklevel=2)
    found = [d for d in AVUIE_FOLDERS if (root / d / f"{split}.json").is_file()]
    if not found:
        raise AnnotationError(root, "", f"no <task>/{split}.json for any of {sorted(AVUIE_FOLDERS)}")
    for folder in found:
        yield from _read_folder(root, folder, split)


def _read_folder(root: Path, folder: str, split: str) -> Iterator[Sample]:
    spec = AVUIE_FOLDERS[folder]
    path = root / folder / f"{split}.json"
    records = read_json(path)
    if not isinstance(records, list):
        raise AnnotationError(path, "", f"expected a JSON list of records, got {type(records).__name__}")
    for i, rec in enumerate(records):
        where = f"record {i}"
        require_fields(rec, ("video_path", "audio_path", spec.ident, *spec.fields), path, where)
        target, meta, reasoning = spec.build(rec, path, where)
        video = find_media([root / folder / "video" / rec["video_path"], root / folder / rec["video_path"]])
        audio = find_media([root / folder / "audio" / rec["audio_path"], root / folder / rec["audio_path"]])
        yield Sample(
            origin=(path, where),
            task=spec.task,
            key=f"{i:06d}_{Path(str(rec[spec.ident])).stem}",
            meta=meta,
            target=target,
            media={"video": video, "audio": audio},
            reasoning=reasoning,
        )
