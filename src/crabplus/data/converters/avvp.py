"""LLP / AVVP (Audio-Visual Video Parsing, Tian et al. ECCV 2020) -> tasks ``avvp`` and ``avvp_weak``.

Official layout under ``--src`` (the AVVP-ECCV20 ``data/`` files next to ``LLP_dataset/``)::

    AVVP_train.csv             tab-separated, header "filename<TAB>event_labels"; labels comma-separated
                               (weak, video-level, modality unknown), e.g. "BjCEufrlXm4_20_30  Speech,Dog"
    AVVP_val_pd.csv AVVP_test_pd.csv
                               same format; they fix which videos are val / test
    AVVP_eval_audio.csv AVVP_eval_visual.csv
                               tab-separated, header "filename<TAB>onset<TAB>offset<TAB>event_labels",
                               one row per event, onset/offset in whole seconds of the 10-s clip
    LLP_dataset/video/<YouTube id>.mp4   the official download script names each clip by the first 11
                               characters of ``filename`` (``BjCEufrlXm4.mp4`` for ``BjCEufrlXm4_20_30``);
                               ``<filename>.mp4`` and the folders ``video/`` or ``--src`` itself are
                               accepted too

Decision: weak labels stay weak. The train split has video-level labels only, so it is written as task
``avvp_weak`` (target ``{"labels": [...]}``, the sorted set of events in the clip: no modality, no spans)
and never as ``avvp``; leave ``avvp_weak`` out of a recipe (or ``--tasks avvp``) to not train on it. Val /
test are task ``avvp``: the dense audio and visual events of the eval csvs. Labels are kept as written
(``Acoustic_guitar``, ``Speech``).

Quirks of the real eval csvs, handled as data (counted and listed in ``skipped.jsonl`` of the split whose
video the row belongs to; the video's other events are kept): zero-length rows (``9  9  Speech``,
reason ``zero-length span``), reversed rows (``9  0  Cheering``, ``span reversed or outside the clip``),
and rows repeated verbatim (``duplicate row``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import as_float, check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import BAD_SPAN, DUPLICATE_ROW, ZERO_LENGTH_SPAN, Sample, Skip

__all__ = ["read_avvp", "AVVP_DURATION_S", "YOUTUBE_ID_CHARS"]

AVVP_DURATION_S = 10.0
#: The official loader and download script use ``filename[:11]``, the YouTube id, as the media name.
YOUTUBE_ID_CHARS = 11
_SPLIT_FILES = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
Event = list  # [label, start_s, end_s]


@register("avvp", tasks=("avvp", "avvp_weak"), splits=tuple(_SPLIT_FILES))
def read_avvp(src: Path, split: str) -> Iterator[Sample | Skip]:
    """LLP/AVVP: AVVP_{train,val_pd,test_pd}.csv (filename, event_labels) + AVVP_eval_{audio,visual}.csv."""
    check_split(split, tuple(_SPLIT_FILES), "avvp")
    path = src / _SPLIT_FILES[split]
    rows = list(iter_csv(path, ("filename", "event_labels"), delimiter="\t"))
    if split == "train":
        for where, row in rows:
            labels = sorted({lab.strip() for lab in row["event_labels"].split(",") if lab.strip()})
            yield _sample(src, "avvp_weak", row["filename"], {"labels": labels}, (path, where))
        return
    names = {row["filename"] for _, row in rows}
    audio, skips_a = _events(src / "AVVP_eval_audio.csv", names)
    visual, skips_v = _events(src / "AVVP_eval_visual.csv", names)
    yield from skips_a
    yield from skips_v
    for where, row in rows:
        name = row["filename"]
        target = {"audio": audio.get(name, []), "visual": visual.get(name, []), "duration": AVVP_DURATION_S}
        yield _sample(src, "avvp", name, target, (path, where))


def _sample(src: Path, task: str, name: str, target: dict, origin: tuple[Path, str]) -> Sample:
    video = find_media(
        d / f"{n}.mp4"
        for d in (src / "LLP_dataset" / "video", src / "video", src)
        for n in dict.fromkeys((name[:YOUTUBE_ID_CHARS], name))
    )
    return Sample(
        origin=origin, task=task, key=name, meta={"video_id": name}, target=target, media={"video": video}
    )


def _events(path: Path, names: set[str]) -> tuple[dict[str, list[Event]], list[Skip]]:
    """filename -> sorted [[label, onset_s, offset_s], ...] of an AVVP_eval_*.csv, for ``names`` only;
    plus the skipped rows of those videos."""
    out: dict[str, list[Event]] = {}
    skips: list[Skip] = []
    seen: set[tuple[str, float, float, str]] = set()
    for where, row in iter_csv(path, ("filename", "onset", "offset", "event_labels"), delimiter="\t"):
        name = row["filename"]
        if name not in names:
            continue
        s, e = as_float(row["onset"], "onset", path, where), as_float(row["offset"], "offset", path, where)
        if s == e or not 0 <= s < e <= AVVP_DURATION_S:
            reason = ZERO_LENGTH_SPAN if s == e else BAD_SPAN
            skips.append(Skip("avvp", (path, where), reason, f"{name}: onset={s:g}, offset={e:g}"))
            continue
        for label in (lab.strip() for lab in row["event_labels"].split(",")):
            if not label:
                continue
            if (name, s, e, label) in seen:
                skips.append(Skip("avvp", (path, where), DUPLICATE_ROW, f"{name}: {label} {s:g}-{e:g}"))
                continue
            seen.add((name, s, e, label))
            out.setdefault(name, []).append([label, s, e])
    return {k: sorted(v, key=lambda ev: (ev[1], ev[0], ev[2])) for k, v in out.items()}, skips
