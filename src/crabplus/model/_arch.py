"""Architecture configs of the real presets' parts, shipped as small JSON files (no weights).

Why: a real preset must be checkable before its weights are on disk (``crabplus plan``, ``init: meta``).
Each file in ``crabplus/assets/architectures`` holds the numbers of one public model card's
``config.json`` (``_source`` names it); ``arch_config`` turns it into the transformers config class.
A ``*_path`` that holds a ``config.json`` wins over the shipped file (the user's download is the truth).

Also here: the pre-flight check of ``*_path`` values, so a missing download stops with one line naming
the key and the path instead of a transformers traceback.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    CLIPVisionConfig,
    LlamaConfig,
    PretrainedConfig,
    Qwen2_5OmniThinkerConfig,
    WhisperConfig,
)

from crabplus.errors import CrabplusError
from crabplus.model._beats import BEATsConfig

__all__ = ["ARCHITECTURES", "WeightsPathError", "arch_config", "check_weights_path", "is_hub_id"]

#: Shipped architecture name -> transformers config class.
ARCHITECTURES: dict[str, type[PretrainedConfig]] = {
    "llama-2-7b-chat": LlamaConfig,
    "clip-vit-large-patch14": CLIPVisionConfig,
    "clip-vit-large-patch14-336": CLIPVisionConfig,
    "whisper-large-v3": WhisperConfig,
    "beats-iter3-plus-as2m": BEATsConfig,
    "qwen2.5-omni-7b-thinker": Qwen2_5OmniThinkerConfig,
}

_WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.safetensors.index.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class WeightsPathError(CrabplusError, FileNotFoundError):
    """A ``*_path`` override that cannot be loaded; the message is one line naming the key and the path."""


def shipped_config_dict(name: str) -> dict[str, Any]:
    """The JSON of shipped architecture ``name`` (without its ``_source`` note)."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; shipped: {sorted(ARCHITECTURES)}")
    text = (resources.files("crabplus") / "assets" / "architectures" / f"{name}.json").read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def arch_config(name: str, path: str | None = None) -> PretrainedConfig:
    """The config of architecture ``name``: from ``path``'s ``config.json`` when that exists, else shipped.

    A full-model download (CLIP text+vision, Whisper encoder+decoder, the whole Qwen2.5-Omni) yields the
    sub-config the preset needs.
    """
    cls = ARCHITECTURES[name] if name in ARCHITECTURES else None
    if cls is BEATsConfig:  # not a transformers config: a saved folder's config.json, else shipped
        source = Path(path) / "config.json" if path else None
        values = json.loads(source.read_text()) if source and source.is_file() else shipped_config_dict(name)
        values = {k: v for k, v in values.items() if k not in ("architectures", "model_type")}
        return BEATsConfig.from_checkpoint_cfg(values, str(source or name))
    if path and (Path(path) / "config.json").is_file():
        config = AutoConfig.from_pretrained(path)
        return _sub_config(config, cls)
    if cls is None:
        raise KeyError(f"unknown architecture {name!r}; shipped: {sorted(ARCHITECTURES)}")
    values = shipped_config_dict(name)
    values.pop("model_type", None)
    return cls(**values)


def _sub_config(config: PretrainedConfig, cls: type[PretrainedConfig] | None) -> PretrainedConfig:
    if cls is None or isinstance(config, cls):
        return config
    if cls is CLIPVisionConfig and hasattr(config, "vision_config"):
        return config.vision_config
    if cls is Qwen2_5OmniThinkerConfig and hasattr(config, "thinker_config"):
        return config.thinker_config
    raise ValueError(f"config of type {type(config).__name__} where {cls.__name__} was expected")


def is_hub_id(value: str) -> bool:
    """``org/name`` with no leading ``/``, ``.`` or ``~`` and no further ``/`` (a hub repository id)."""
    return bool(_HUB_ID.match(value)) and not Path(value).exists()


def check_weights_path(key: str, value: str | None, needs_weights: bool = True) -> None:
    """Pre-flight of one ``*_path``: raise :class:`WeightsPathError` with a one-line message.

    A hub id passes (transformers resolves it, downloading unless ``HF_HUB_OFFLINE`` is set). A local
    path must be a folder with a ``config.json`` and, when ``needs_weights``, weight files. A ``.pt``
    value is a single-file checkpoint (BEATs' official release), never a hub id: it must exist.
    """
    where = f"model_overrides.{key}"
    if not value:
        raise WeightsPathError(
            f"{where} is not set; give the downloaded folder or a hub id (or init: meta to build without weights)"
        )
    single_file = value.endswith(".pt")
    if is_hub_id(value) and not single_file:
        return
    path = Path(value).expanduser()
    if not path.exists():
        fix = (
            "put the downloaded .pt file there"
            if single_file
            else "put the downloaded folder there or give a hub id"
        )
        raise WeightsPathError(f"{where}: {value} does not exist; {fix}")
    if path.is_file() and path.suffix == ".pt":  # a single-file checkpoint (BEATs' official release)
        return
    if not path.is_dir() or not (path / "config.json").is_file():
        raise WeightsPathError(f"{where}: {value} is not a model folder (no config.json in it)")
    if needs_weights and not any(next(path.glob(p), None) for p in _WEIGHT_FILES):
        raise WeightsPathError(
            f"{where}: {value} has config.json but no weights (*.safetensors / *.bin); finish the download "
            "there, or use init: meta to build without weights"
        )
