"""crabplus.data: shards, decoding, the multi-task mixture and the synthetic audio-visual world.

Public API: ``ShardWriter``/``read_index`` (shards), ``load_video``/``load_audio``/``load_image``/
``load_mask``/``log_mel`` (decode), ``MediaSpec``, ``MultiTaskDataModule``, ``TaskEntry``; the synthetic world is in
``crabplus.data.synth``.
"""

from __future__ import annotations

from crabplus.data.batch import ENCODED_MEDIA, MEDIA_KEYS, Batch, encoded_media
from crabplus.data.datamodule import MultiTaskDataModule
from crabplus.data.decode import DecodeError, load_audio, load_image, load_mask, load_video, log_mel
from crabplus.data.sample import MediaSpec
from crabplus.data.shards import ShardWriter, read_index
from crabplus.data.task_entry import TaskEntry

__all__ = [
    "Batch",
    "ENCODED_MEDIA",
    "MEDIA_KEYS",
    "encoded_media",
    "ShardWriter",
    "read_index",
    "load_video",
    "load_audio",
    "load_image",
    "load_mask",
    "log_mel",
    "DecodeError",
    "MediaSpec",
    "MultiTaskDataModule",
    "TaskEntry",
]
