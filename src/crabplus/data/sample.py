"""Turning one raw shard sample (bytes per extension) into a training sample dict.

A sample dict has ``task, key, meta, target, reasoning, prompt, answer`` and the media tensors of its
modality group: ``video (T, 3, S, S)`` uint8, ``audio (n_mels, F)`` the audio tower's features
(``MediaSpec.audio_features``), ``waveform (N,)``,
``image (3, S, S)`` uint8, ``mask (S, S)`` bool (also put in ``target["mask"]``; an AVSBench
colour-palette mask, ``meta["mask_format"]``, decodes to class indices ``(S, S)`` long instead).
Anything wrong with the sample raises ``BadSample`` with a reason; the caller skips it and counts it.

Pixels stay bytes: a 224² clip of 8 frames is 1.2 MB as uint8 and 4.8 MB as float32, and every byte is
copied through shared memory from the loader workers; the model turns them into [0, 1] floats on its device
(``AVLLM.encode_media``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from crabplus.data.decode import DecodeError, load_audio, load_image, load_mask, load_video
from crabplus.data.features import AUDIO_FEATURES, beats_fbank, whisper_features
from crabplus.tasks import BAD_TARGET, BadTarget, checked_target
from crabplus.tasks.families import AVSBENCH_MASK_FORMAT, AVSBENCH_PALETTE

__all__ = [
    "MediaSpec",
    "BadSample",
    "audio_features",
    "modalities_of",
    "decode_sample",
    "fit_length",
    "decode_mask",
    "mask_target",
    "mask_size_problem",
    "SKIP_KINDS",
]

AUDIO_FILES = ("wav", "mp3", "flac")
IMAGE_FILES = ("png", "jpg")


@dataclass(frozen=True)
class MediaSpec:
    """What the model consumes (the model preset dictates it; configs interpolate it).

    Attributes:
        num_frames: video frames per clip (T).
        frame_size: side of frames, images and masks (S).
        sample_rate: audio rate in Hz.
        clip_seconds: audio is cropped / zero-padded to this length (N = clip_seconds * sample_rate).
        n_mels, hop, n_fft: log-mel settings.
        audio_features: the audio tower's front end (the model's ``media_spec`` names it): "whisper"
            (``WhisperFeatureExtractor``'s normalised log-mel, Whisper and Qwen2.5-Omni) or "fbank"
            (BEATs' normalised Kaldi fbank, 25 ms / 10 ms frames).
        chunk_seconds: "whisper" only: the extractor's chunk; the clip is zero-padded to it before the
            features are computed (Whisper and Qwen2.5-Omni: 30 s). None: the clip itself.
        feature_frames: "whisper" only: frames kept from the chunk's ``chunk_samples // hop`` (a Whisper
            tower takes the whole chunk; Qwen2.5-Omni's keeps the clip's ``N // hop``). None: all.
        waveform: also return the raw waveform.
        decode: decode media at all (False = text only, batches keep their modality group but carry no
            media; for mixture tests and benchmarks of the sampler).
        uint8_resize: resize decoded frames as bytes (faster; within one grey level of resizing through
            float32, which ``False`` keeps: the pinned weight digest was recorded with it).
    """

    num_frames: int = 8
    frame_size: int = 64
    sample_rate: int = 16000
    clip_seconds: float = 4.0
    n_mels: int = 64
    hop: int = 160
    n_fft: int = 400
    audio_features: str = "whisper"
    chunk_seconds: float | None = None
    feature_frames: int | None = None
    waveform: bool = False
    decode: bool = True
    uint8_resize: bool = True

    def __post_init__(self) -> None:
        if self.audio_features not in AUDIO_FEATURES:
            raise ValueError(
                f"MediaSpec.audio_features={self.audio_features!r}; valid: {list(AUDIO_FEATURES)}"
            )

    @classmethod
    def from_model(cls, media_spec: dict, **kwargs) -> MediaSpec:
        """The spec a model's ``media_spec`` asks for (``kwargs``: ``waveform``, ``decode``, ``n_fft``)."""
        names = (
            "num_frames", "frame_size", "sample_rate", "clip_seconds", "n_mels", "audio_features",
            "chunk_seconds", "feature_frames",
        )  # fmt: skip
        values = {k: media_spec[k] for k in names if k in media_spec}
        if "hop_length" in media_spec:
            values["hop"] = media_spec["hop_length"]
        return cls(**values, **kwargs)

    def audio_mismatches(self, media_spec: dict) -> list[str]:
        """How this spec's audio front end differs from what a model's ``media_spec`` reads (empty: none).

        Features are computed here and only checked in shape by the model, so a mismatched front end (a
        Whisper log-mel fed to BEATs, a 4-s chunk to a 30-s Whisper) would train silently on wrong inputs.
        """
        want = MediaSpec.from_model(media_spec)
        out = []
        if self.audio_features != want.audio_features:
            out.append(f"audio_features={self.audio_features!r} (the model reads {want.audio_features!r})")
        if self.n_mels != want.n_mels:
            out.append(f"n_mels={self.n_mels} (the model reads {want.n_mels})")
        if out or self.audio_features != "whisper":
            return out
        if self.chunk_samples != want.chunk_samples:
            out.append(f"chunk_seconds={self.chunk_samples / self.sample_rate:g} (the model's extractor pads to "
                       f"{want.chunk_samples / want.sample_rate:g} s)")  # fmt: skip
        frames = self.feature_frames or self.chunk_samples // self.hop
        wanted = want.feature_frames or want.chunk_samples // want.hop
        if frames != wanted:
            out.append(f"feature_frames={frames} (the model reads {wanted})")
        return out

    @property
    def num_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def chunk_samples(self) -> int:
        """Samples the "whisper" features are computed over (the clip padded to ``chunk_seconds``)."""
        seconds = self.clip_seconds if self.chunk_seconds is None else self.chunk_seconds
        return int(round(seconds * self.sample_rate))


def audio_features(wave: torch.Tensor, spec: MediaSpec) -> torch.Tensor:
    """The features of ``spec.audio_features`` of a clip's ``(N,)`` waveform: ``(n_mels, F)``."""
    if spec.audio_features == "fbank":
        return beats_fbank(wave, spec.sample_rate, spec.n_mels).T  # (n_mels, F)
    feats = whisper_features(wave, spec.sample_rate, spec.n_mels, spec.chunk_samples, spec.hop, spec.n_fft)
    return feats[:, : spec.feature_frames] if spec.feature_frames else feats


def modalities_of(media_keys, spec: MediaSpec) -> tuple[str, ...]:
    """Batch media keys produced by a sample with these file extensions (fixed order)."""
    keys = set(media_keys)
    out = []
    if "mp4" in keys:
        out.append("video")
    if any(k in keys for k in IMAGE_FILES):
        out.append("image")
    if "mp4" in keys or any(k in keys for k in AUDIO_FILES):
        out.append("audio")
        if spec.waveform:
            out.append("waveform")
    if "mask.png" in keys:
        out.append("mask")
    return tuple(out)


#: Categories of skipped samples (``BadSample.kind``), counted per task.
SKIP_KINDS = ("bad_media", "bad_json", "bad_target", "bad_format")


class BadSample(Exception):
    """A sample that cannot be used; ``str(err)`` is the reason, ``kind`` the counted category
    (``bad_media``, ``bad_json``, ``bad_target``, ``bad_format``)."""

    def __init__(self, reason: str, kind: str = "bad_media") -> None:
        super().__init__(reason)
        self.kind = kind


def fit_length(wave: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or zero-pad ``(N',)`` to ``(n,)`` (AAC adds priming samples; clips differ in length)."""
    if wave.numel() >= n:
        return wave[:n]
    return torch.cat([wave, wave.new_zeros(n - wave.numel())])


def _first(raw: dict, exts) -> bytes | None:
    return next((raw[e] for e in exts if e in raw), None)


_PALETTES = {AVSBENCH_MASK_FORMAT: list(AVSBENCH_PALETTE)}


def decode_mask(data: bytes, meta: dict, size: int | None) -> torch.Tensor:
    """A sample's ``mask.png``: ``(S, S)`` bool, or class indices ``(S, S)`` long for a palette mask.

    Raises:
        DecodeError: undecodable png, or a ``meta["mask_format"]`` no palette is known for.
    """
    fmt = meta.get("mask_format")
    if fmt is None:
        return load_mask(data, size)
    if fmt not in _PALETTES:
        raise DecodeError(f"unknown meta mask_format {fmt!r}; known: {sorted(_PALETTES)}")
    return load_mask(data, size, palette=_PALETTES[fmt])


def mask_target(target: dict, meta: dict, mask: torch.Tensor) -> dict:
    """``target`` with its mask, and ``video`` = ``meta["video_id"]`` (the per-video mask F groups by it)."""
    out = dict(target, mask=mask)
    if "video_id" in meta and "video" not in out:
        out["video"] = str(meta["video_id"])
    return out


def mask_size_problem(raw: dict) -> str | None:
    """A ``mask.png`` whose size differs from its image's (``png``/``jpg``), or None.

    The declared rule: a mask and its image are both resized to ``media.frame_size`` (nearest neighbour
    for the mask), which keeps them aligned only when they start from the same size. Video frames are
    not checked here (their size is known only after decoding).
    """
    mask, image = raw.get("mask.png"), _first(raw, IMAGE_FILES)
    if mask is None or image is None:
        return None
    try:
        mask_size, image_size = Image.open(io.BytesIO(mask)).size, Image.open(io.BytesIO(image)).size
    except Exception:  # undecodable: the media decoder reports it as bad media
        return None
    if mask_size != image_size:
        return f"mask is {mask_size[0]}x{mask_size[1]}, its image {image_size[0]}x{image_size[1]}"
    return None


def _decode_media(raw: dict, modalities: tuple[str, ...], spec: MediaSpec, meta: dict) -> dict:
    out: dict = {}
    if not spec.decode:  # text-only mode: the group is still that of the media, nothing is decoded
        return out
    try:
        if "video" in modalities:
            out["video"] = load_video(
                _need(raw, ("mp4",)), spec.num_frames, spec.frame_size, uint8_resize=spec.uint8_resize
            )  # (T, 3, S, S) uint8
        if "image" in modalities:
            out["image"] = load_image(_need(raw, IMAGE_FILES), spec.frame_size)  # (3, S, S) uint8
        if "audio" in modalities:
            src = _first(raw, AUDIO_FILES) or _need(raw, ("mp4",))
            # only the first num_samples are used: a long track is decoded over that window only
            wave = fit_length(load_audio(src, spec.sample_rate, spec.clip_seconds), spec.num_samples)  # (N,)
            out["audio"] = audio_features(wave, spec)  # (n_mels, F)
            if spec.waveform:
                out["waveform"] = wave
        if "mask" in modalities:
            out["mask"] = decode_mask(_need(raw, ("mask.png",)), meta, spec.frame_size)  # (S, S)
    except DecodeError as err:
        raise BadSample(str(err)) from err
    return out


def _need(raw: dict, exts) -> bytes:
    data = _first(raw, exts)
    if data is None:
        raise BadSample(f"missing {'/'.join(exts)}")
    return data


def decode_sample(
    raw: dict, task: str, modalities: tuple[str, ...], spec: MediaSpec, task_lookup: Callable
) -> dict:
    """Decode ``raw`` of stream ``task`` into a sample dict; raises ``BadSample``."""
    try:
        record = json.loads(raw["json"])
        meta, target, reasoning = record["meta"], dict(record["target"]), record.get("reasoning")
    except KeyError as err:
        raise BadSample(f"json lacks {err}" if "json" in raw else "missing json", "bad_json") from err
    except (ValueError, TypeError) as err:
        raise BadSample(f"malformed json: {err}", "bad_json") from err
    if record.get("task") != task:
        raise BadSample(f"json task {record.get('task')!r} is not this stream's task {task!r}", "bad_json")
    handler = task_lookup(task)
    try:
        target = checked_target(handler, target)
    except BadTarget as err:
        raise BadSample(f"{BAD_TARGET}: {err}", BAD_TARGET) from err
    mask_problem = mask_size_problem(raw)
    if mask_problem:
        raise BadSample(f"{BAD_TARGET}: {mask_problem}", BAD_TARGET)
    sample = {
        "task": task,
        "key": f"{raw['__shard__']}:{raw['__key__']}",
        "meta": meta,
        "reasoning": reasoning,
    }
    sample.update(_decode_media(raw, modalities, spec, meta))
    if "mask" in sample:
        target = mask_target(target, meta, sample["mask"])
    try:
        sample["prompt"] = handler.build_prompt(meta)
        sample["answer"] = handler.format_target(target, reasoning)
    except Exception as err:  # a task's template that cannot handle this sample's fields
        raise BadSample(
            f"task {task!r} cannot format this sample: {type(err).__name__}: {err}", "bad_format"
        ) from err
    sample["target"] = target
    return sample
