"""Turning one raw shard sample (bytes per extension) into a training sample dict.

A sample dict has ``task, key, meta, target, reasoning, prompt, answer`` and the media tensors of its
modality group: ``video (T, 3, S, S)`` float in [0, 1], ``audio (n_mels, F)`` log-mel, ``waveform (N,)``,
``image (3, S, S)`` float in [0, 1], ``mask (S, S)`` bool (also put in ``target["mask"]``; an AVSBench
colour-palette mask, ``meta["mask_format"]``, decodes to class indices ``(S, S)`` long instead).
Anything wrong with the sample raises ``BadSample`` with a reason; the caller skips it and counts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import torch

from crabplus.data.decode import DecodeError, load_audio, load_image, load_mask, load_video, log_mel
from crabplus.tasks.families import AVSBENCH_MASK_FORMAT, AVSBENCH_PALETTE

__all__ = [
    "MediaSpec",
    "BadSample",
    "modalities_of",
    "decode_sample",
    "fit_length",
    "decode_mask",
    "mask_target",
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
        n_mels, hop, n_fft: log-mel settings; F = 1 + N // hop.
        waveform: also return the raw waveform.
        decode: decode media at all (False = text only, batches keep their modality group but carry no
            media; for mixture tests and benchmarks of the sampler).
    """

    num_frames: int = 8
    frame_size: int = 64
    sample_rate: int = 16000
    clip_seconds: float = 4.0
    n_mels: int = 64
    hop: int = 160
    n_fft: int = 400
    waveform: bool = False
    decode: bool = True

    @property
    def num_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))


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


class BadSample(Exception):
    """A sample that cannot be used; ``str(err)`` is the reason."""


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


def _decode_media(raw: dict, modalities: tuple[str, ...], spec: MediaSpec, meta: dict) -> dict:
    out: dict = {}
    if not spec.decode:  # text-only mode: the group is still that of the media, nothing is decoded
        return out
    try:
        if "video" in modalities:
            out["video"] = load_video(_need(raw, ("mp4",)), spec.num_frames, spec.frame_size, as_float=True)
        if "image" in modalities:
            out["image"] = load_image(_need(raw, IMAGE_FILES), spec.frame_size).float().div_(255.0)
        if "audio" in modalities:
            src = _first(raw, AUDIO_FILES) or _need(raw, ("mp4",))
            wave = fit_length(load_audio(src, spec.sample_rate), spec.num_samples)  # (N,)
            out["audio"] = log_mel(wave, spec.sample_rate, spec.n_mels, spec.hop, spec.n_fft)  # (n_mels, F)
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
        raise BadSample(f"json lacks {err}" if "json" in raw else "missing json") from err
    except (ValueError, TypeError) as err:
        raise BadSample(f"malformed json: {err}") from err
    if record.get("task") != task:
        raise BadSample(f"json task {record.get('task')!r} is not this stream's task {task!r}")
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
        handler = task_lookup(task)
        sample["prompt"] = handler.build_prompt(meta)
        sample["answer"] = handler.format_target(target, reasoning)
    except Exception as err:  # a task's template that cannot handle this sample's fields
        raise BadSample(f"task {task!r} cannot format this sample: {type(err).__name__}: {err}") from err
    sample["target"] = target
    return sample
