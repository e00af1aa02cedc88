"""``Batch``: what every loader of :class:`~crabplus.data.MultiTaskDataModule` yields, field by field.

A ``TypedDict``, not a dataclass: Lightning moves it to the device as the dict it is, and every consumer
(the module's steps, the callbacks, ``eval-all``) reads the same keys. Batches are modality-homogeneous:
every sample of a batch has the same media keys, so a media field is either a stacked tensor or absent
(``None`` after ``AVLLMModule``'s modality dropping). B is the batch size, T frames, S the frame side,
F log-mel frames, N waveform samples.
"""

from __future__ import annotations

from typing import Any, TypedDict

import torch

__all__ = ["Batch", "StreamState", "MEDIA_KEYS", "ENCODED_MEDIA", "media_keys_of", "encoded_media"]

MEDIA_KEYS: tuple[str, ...] = ("video", "audio", "waveform", "image", "mask")
"""Every media field a batch can carry, in collation order."""

ENCODED_MEDIA: tuple[str, ...] = ("video", "audio", "image")
"""The media fields the model's encoders read (``waveform`` is for feature tests, ``mask`` is a target)."""


class StreamState(TypedDict):
    """Where the mixture's task streams stand after a training batch (the DataModule's resume point)."""

    residue: int
    """Batch index modulo the number of loader workers: the worker slot whose streams these are."""
    positions: dict[str, int]
    """Samples consumed per task stream of that slot."""


class Batch(TypedDict, total=False):
    """One collated batch (``crabplus.data.loaders.collate``); training batches also carry the last three."""

    task: list[str]
    """Task name per sample."""
    key: list[str]
    """``"<shard path>:<key>"`` per sample, for error messages and prediction rows."""
    task_id: torch.Tensor
    """(B,) long: index of the task in ``data.tasks`` (the train order)."""
    prompt: list[str]
    """``Task.build_prompt(meta)``: instruction text with ``<video>``/``<audio>``/``<image>`` placeholders."""
    answer: list[str]
    """``Task.format_target(target, reasoning)``: the answer text the LM learns."""
    target: list[dict[str, Any]]
    """Structured targets as in the shards (masks as bool tensors)."""
    meta: list[dict[str, Any]]
    """Task inputs per sample (question, options...)."""
    video: torch.Tensor | None
    """(B, T, 3, S, S) uint8 (the model scales it to [0, 1] on its device; float in [0, 1] is accepted too)."""
    audio: torch.Tensor | None
    """(B, n_mels, F) log-mel."""
    waveform: torch.Tensor | None
    """(B, N) 16 kHz mono, when ``media.waveform`` is set."""
    image: torch.Tensor | None
    """(B, 3, S, S) uint8, like ``video``."""
    mask: torch.Tensor | None
    """(B, S, S) bool ground-truth mask (segmentation tasks)."""
    batch_index: int
    """Training only: the global batch number (the resume point is the next one)."""
    stream_state: StreamState
    """Training only: the task streams' positions after this batch."""
    skipped: dict[str, int]
    """Samples skipped per task while building this batch (counted, never silently dropped)."""
    skipped_by_kind: dict[str, int]
    """The same skips per ``"<task>/<kind>"`` (``bad_media``, ``bad_json``, ``bad_target``, ``bad_format``)."""


def media_keys_of(sample: dict[str, Any]) -> list[str]:
    """The media fields a sample or batch carries (not None), in ``MEDIA_KEYS`` order."""
    return [k for k in MEDIA_KEYS if sample.get(k) is not None]


def encoded_media(batch: Batch) -> dict[str, torch.Tensor]:
    """The media tensors the model's encoders take, by field name (absent and dropped ones left out)."""
    return {k: batch[k] for k in ENCODED_MEDIA if batch.get(k) is not None}
