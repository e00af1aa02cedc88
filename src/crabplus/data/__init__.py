"""crabplus.data: shards, decoding, the multi-task mixture and the synthetic audio-visual world.

Public API: ``ShardWriter``/``read_index`` (shards), ``load_video``/``load_audio``/``load_image``/
``load_mask``/``log_mel`` (decode), ``MediaSpec``, ``MultiTaskDataModule``; the synthetic world is in
``crabplus.data.synth``. Heavy modules are imported on first use.
"""

from __future__ import annotations

import importlib

__all__ = [
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
]

_WHERE = {
    "ShardWriter": "shards",
    "read_index": "shards",
    "load_video": "decode",
    "load_audio": "decode",
    "load_image": "decode",
    "load_mask": "decode",
    "log_mel": "decode",
    "DecodeError": "decode",
    "MediaSpec": "sample",
    "MultiTaskDataModule": "datamodule",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"crabplus.data.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'crabplus.data' has no attribute {name!r}")
