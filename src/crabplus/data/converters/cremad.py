"""CREMA-D (Cao et al. 2014, crowd-sourced emotional multimodal actors) -> task ``cremad``.

Official layout under ``--src`` (the CREMA-D repository)::

    AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav     e.g. 1001_DFA_ANG_XX.wav (7,442 clips)
    VideoFlash/<same name>.flv                               (or VideoMP4/<same name>.mp4)

The emotion is coded in the file name: ANG anger, DIS disgust, FEA fear, HAP happy, NEU neutral,
SAD sad. The clip list is AudioWAV (present in every copy); the video is VideoMP4/*.mp4 if present,
else VideoFlash/*.flv, transcoded to H.264 + AAC mp4 when written.

CREMA-D has no official split. Decision: a speaker-independent split by actor id (1001-1091):
``test`` = ids ending in 0, ``val`` = ids ending in 5, ``train`` = the rest; ``all`` = every clip.
A file ``<split>.txt`` under ``--src`` (one clip name per line) overrides the rule for that split.

Target ``{"label": emotion name}``; meta ``{"actor", "sentence", "level"}``.

The clips the CREMA-D README flags as not showing what their name says (:data:`FLAGGED_CLIPS`: no audio,
no duration, or the whole sentence in every emotion) are skipped, reason ``clip flagged in the dataset
README``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_lines
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample, Skip

__all__ = ["read_cremad", "CREMAD_EMOTIONS", "cremad_split_of", "FLAGGED_CLIPS"]

#: Clips the dataset's README lists as wrong for their file name (video and audio alike).
FLAGGED_CLIPS = {
    "1076_MTI_NEU_XX": "very short, no audio",
    "1076_MTI_SAD_XX": "error picture, no audio, very short",
    "1064_TIE_SAD_XX": "file has no duration",
    "1064_IEO_DIS_MD": "one minute holding every emotion of the sentence",
}
FLAGGED = "clip flagged in the dataset README"

CREMAD_EMOTIONS = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
_SPLITS = ("train", "val", "test", "all")


def cremad_split_of(actor: int) -> str:
    """The split of an actor id under the actor rule (see the module docstring)."""
    return {0: "test", 5: "val"}.get(actor % 10, "train")


@register("cremad", tasks=("cremad",), splits=_SPLITS)
def read_cremad(src: Path, split: str) -> Iterator[Sample | Skip]:
    """CREMA-D: AudioWAV/<Actor>_<Sentence>_<EMO>_<Level>.wav names + VideoFlash/*.flv or VideoMP4/*.mp4."""
    check_split(split, _SPLITS, "cremad")
    audio_dir = src / "AudioWAV"
    if not audio_dir.is_dir():
        raise AnnotationError(audio_dir, "", "folder not found (the clip list of CREMA-D)")
    listed = _split_list(src / f"{split}.txt")
    for wav in sorted(audio_dir.glob("*.wav")):
        name = wav.stem
        parts = name.split("_")
        if len(parts) != 4 or not parts[0].isdigit() or parts[2] not in CREMAD_EMOTIONS:
            raise AnnotationError(
                wav,
                "file name",
                f"expected <ActorID>_<Sentence>_<{'|'.join(CREMAD_EMOTIONS)}>_<Level>, got {name!r}",
            )
        actor = int(parts[0])
        if listed is not None and name not in listed:
            continue
        if listed is None and split != "all" and cremad_split_of(actor) != split:
            continue
        if name in FLAGGED_CLIPS:
            yield Skip("cremad", (wav, "file name"), FLAGGED, FLAGGED_CLIPS[name])
            continue
        video = find_media([src / "VideoMP4" / f"{name}.mp4", src / "VideoFlash" / f"{name}.flv"])
        yield Sample(
            origin=(wav, "file name"),
            task="cremad",
            key=name,
            meta={"actor": actor, "sentence": parts[1], "level": parts[3]},
            target={"label": CREMAD_EMOTIONS[parts[2]]},
            media={"video": video},
        )


def _split_list(path: Path) -> set[str] | None:
    """Clip names listed in ``path`` (extensions dropped), or ``None`` if there is no such file."""
    if not path.is_file():
        return None
    return {Path(line).stem for _, line in iter_lines(path)}
