"""LLP / AVVP (Audio-Visual Video Parsing, Tian et al. ECCV 2020) -> task ``avvp``.

Official layout under ``--src`` (the AVVP-ECCV20 ``data/`` files next to ``LLP_dataset/``)::

    AVVP_train.csv             tab-separated, header "filename<TAB>event_labels"; labels comma-separated
                               (weak, video-level, modality unknown)
    AVVP_val_pd.csv AVVP_test_pd.csv
                               same format; they fix which videos are val / test
    AVVP_eval_audio.csv AVVP_eval_visual.csv
                               tab-separated, header "filename<TAB>onset<TAB>offset<TAB>event_labels",
                               one row per event, onset/offset in seconds of the 10-s clip
    LLP_dataset/video/<filename>.mp4   (or video/<filename>.mp4, or <filename>.mp4)

Decision: val/test targets are the dense audio and visual events of the eval csvs. The train split has
only weak labels; each weak label becomes a whole-clip event in *both* modalities, and the sample's meta
says ``"weak": true`` so that training code can treat them differently (``weak_labels`` lists them).
Labels are kept as written in the files (``Acoustic_guitar``, ``Speech``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import as_float, check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_avvp", "AVVP_DURATION_S"]

AVVP_DURATION_S = 10.0
_SPLIT_FILES = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
Event = list  # [label, start_s, end_s]


@register("avvp", tasks=("avvp",), splits=tuple(_SPLIT_FILES))
def read_avvp(src: Path, split: str) -> Iterator[Sample]:
    """LLP/AVVP: AVVP_{train,val_pd,test_pd}.csv (filename, event_labels) + AVVP_eval_{audio,visual}.csv."""
    check_split(split, tuple(_SPLIT_FILES), "avvp")
    path = src / _SPLIT_FILES[split]
    dense = (
        None
        if split == "train"
        else (_events(src / "AVVP_eval_audio.csv"), _events(src / "AVVP_eval_visual.csv"))
    )
    for where, row in iter_csv(path, ("filename", "event_labels"), delimiter="\t"):
        name = row["filename"]
        labels = [lab.strip() for lab in row["event_labels"].split(",") if lab.strip()]
        video = find_media(_video_candidates(src, name))
        if dense is None:
            whole = [[lab, 0.0, AVVP_DURATION_S] for lab in labels]
            meta = {"video_id": name, "weak": True, "weak_labels": labels}
            target = {"audio": whole, "visual": [list(e) for e in whole], "duration": AVVP_DURATION_S}
        else:
            meta = {"video_id": name, "weak": False}
            target = {
                "audio": dense[0].get(name, []),
                "visual": dense[1].get(name, []),
                "duration": AVVP_DURATION_S,
            }
        yield Sample(
            origin=(path, where), task="avvp", key=name, meta=meta, target=target, media={"video": video}
        )


def _video_candidates(src: Path, name: str) -> list[Path]:
    return [src / "LLP_dataset" / "video" / f"{name}.mp4", src / "video" / f"{name}.mp4", src / f"{name}.mp4"]


def _events(path: Path) -> dict[str, list[Event]]:
    """filename -> sorted [[label, onset_s, offset_s], ...] from an AVVP_eval_*.csv."""
    out: dict[str, list[Event]] = {}
    for where, row in iter_csv(path, ("filename", "onset", "offset", "event_labels"), delimiter="\t"):
        s, e = as_float(row["onset"], "onset", path, where), as_float(row["offset"], "offset", path, where)
        if not 0 <= s < e <= AVVP_DURATION_S:
            raise AnnotationError(path, where, f"bad event span onset={s}, offset={e}")
        for label in row["event_labels"].split(","):
            if label.strip():
                out.setdefault(row["filename"], []).append([label.strip(), s, e])
    return {k: sorted(v, key=lambda ev: (ev[1], ev[0])) for k, v in out.items()}
