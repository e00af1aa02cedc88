"""Save / load an ``AVLLM`` without pickle.

Layout of a saved directory::

    avllm_config.json          AVLLMConfig
    tokenizer/                 tokenizer.save_pretrained
    language_model/            HF save_pretrained (omni: the whole thinker, towers included)
    vision_encoder/            HF save_pretrained (modular only)
    audio_encoder/             HF save_pretrained (modular only; BEATs: config.json + model.safetensors)
    modules.safetensors        vision_connector.*, audio_connector.*, mask_head.* tensors

Classes are resolved by name from an allow-list of transformers classes, never unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from crabplus.model._avllm import AVLLM
from crabplus.model._beats import BEATs
from crabplus.model._config import AVLLMConfig

__all__ = ["load_avllm", "resolve_hf_class", "save_avllm"]

_EXTRA_CLASSES = {"WhisperEncoder": WhisperEncoder, "BEATs": BEATs}
_SMALL_MODULES = ("vision_connector", "audio_connector", "mask_head")


def resolve_hf_class(name: str) -> type:
    """A transformers model class by name (causal LMs, the omni thinker, CLIP/SigLIP/AST, Whisper encoder)."""
    allowed = (
        name in _EXTRA_CLASSES
        or name.endswith(("ForCausalLM", "VisionModel", "ForConditionalGeneration"))
        or name in ("ASTModel",)
    )
    cls = _EXTRA_CLASSES.get(name) or getattr(transformers, name, None)
    if not allowed or cls is None:
        raise ValueError(f"cannot load model class {name!r} (not an allowed transformers model class)")
    return cls


def save_avllm(model: AVLLM, directory: str | Path) -> None:
    """Write ``model`` to ``directory`` (created if needed)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / "avllm_config.json").write_text(json.dumps(model.config.to_dict(), indent=2))
    model.tokenizer.save_pretrained(root / "tokenizer")
    model.language_model.save_pretrained(root / "language_model")
    if model.config.paradigm == "modular":
        for name in ("vision_encoder", "audio_encoder"):
            module = getattr(model, name)
            if module is not None:
                module.save_pretrained(root / name)
    tensors = {}
    for name in _SMALL_MODULES:
        module = getattr(model, name)
        if module is not None:
            tensors.update({f"{name}.{k}": v.detach().contiguous() for k, v in module.state_dict().items()})
    save_file(tensors, str(root / "modules.safetensors"))


def load_avllm(directory: str | Path, **from_pretrained_kwargs) -> AVLLM:
    """Rebuild a model saved by ``AVLLM.save_pretrained`` (kwargs go to every ``from_pretrained``, e.g. dtype)."""
    from crabplus.model._assemble import assemble

    root = Path(directory)
    if not (root / "avllm_config.json").is_file():
        raise FileNotFoundError(f"{root / 'avllm_config.json'} not found: not a saved AVLLM directory")
    config = AVLLMConfig.from_dict(json.loads((root / "avllm_config.json").read_text()))
    tokenizer = AutoTokenizer.from_pretrained(str(root / "tokenizer"))
    lm = resolve_hf_class(config.lm_class).from_pretrained(
        str(root / "language_model"), **from_pretrained_kwargs
    )
    if config.paradigm == "omni":
        vision, audio = lm.model.visual, lm.model.audio_tower
    else:
        vision = _load_part(root, "vision_encoder", config.vision_class, from_pretrained_kwargs)
        audio = _load_part(root, "audio_encoder", config.audio_class, from_pretrained_kwargs)
    model = assemble(config, lm, tokenizer, vision, audio)
    tensors = load_file(str(root / "modules.safetensors"))
    for name in _SMALL_MODULES:
        module = getattr(model, name)
        if module is not None:
            prefix = f"{name}."
            module.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    return model


def _load_part(root: Path, name: str, class_name: str, kwargs: dict):
    if not class_name:
        return None
    return resolve_hf_class(class_name).from_pretrained(str(root / name), **kwargs)
