"""MELD (Multimodal EmotionLines Dataset, Poria et al. ACL 2019) -> task ``meld``.

Official layout under ``--src`` (``MELD.Raw/``)::

    train_sent_emo.csv dev_sent_emo.csv test_sent_emo.csv
        columns Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID, Season,
        Episode, StartTime, EndTime
    train_splits/dia<Dialogue_ID>_utt<Utterance_ID>.mp4          (or train/train_splits/...)
    dev_splits_complete/dia<D>_utt<U>.mp4                        (or dev/dev_splits_complete/...)
    output_repeated_splits_test/dia<D>_utt<U>.mp4                (or test/output_repeated_splits_test/...)

Split ``val`` reads the ``dev`` files. Target ``{"label": Emotion}`` (anger, disgust, fear, joy, neutral,
sadness, surprise); meta ``{"utterance", "speaker", "sentiment", "dialogue_id", "utterance_id"}``
(the transcript is an input MELD provides). The csv is read as UTF-8 with undecodable bytes replaced.
A few utterance clips of the official release are missing (dev ``dia110_utt7``): their rows are skipped
as ``missing media``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_meld", "MELD_EMOTIONS"]

MELD_EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
_FILES = {
    "train": ("train_sent_emo.csv", ("train_splits", "train/train_splits")),
    "val": ("dev_sent_emo.csv", ("dev_splits_complete", "dev/dev_splits_complete")),
    "test": ("test_sent_emo.csv", ("output_repeated_splits_test", "test/output_repeated_splits_test")),
}
_FIELDS = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")


@register("meld", tasks=("meld",), splits=tuple(_FILES))
def read_meld(src: Path, split: str) -> Iterator[Sample]:
    """MELD: {train,dev,test}_sent_emo.csv (Utterance, Emotion, Dialogue_ID, Utterance_ID) + dia*_utt*.mp4."""
    check_split(split, tuple(_FILES), "meld")
    csv_name, video_dirs = _FILES[split]
    path = src / csv_name
    for where, row in iter_csv(path, _FIELDS):
        emotion = row["Emotion"].lower()
        if emotion not in MELD_EMOTIONS:
            raise AnnotationError(
                path, where, f"field 'Emotion' must be one of {MELD_EMOTIONS}, got {row['Emotion']!r}"
            )
        clip = f"dia{row['Dialogue_ID']}_utt{row['Utterance_ID']}"
        video = find_media([src / d / f"{clip}.mp4" for d in video_dirs])
        yield Sample(
            origin=(path, where),
            task="meld",
            key=clip,
            meta={
                "utterance": row["Utterance"],
                "speaker": row["Speaker"],
                "sentiment": row["Sentiment"],
                "dialogue_id": row["Dialogue_ID"],
                "utterance_id": row["Utterance_ID"],
            },
            target={"label": emotion},
            media={"video": video},
        )
