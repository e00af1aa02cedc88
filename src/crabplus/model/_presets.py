"""Preset registry and the named presets.

``build_avllm(preset, **overrides)`` is the one entry point. Overrides are either ``AVLLMConfig`` fields
(e.g. ``num_frames``, ``connector``) or keyword arguments of the preset function (e.g. ``llm_path``,
``seed``); anything else is an error naming the valid keys.

Tiny presets build random models from tiny configs with the shipped tokenizer (offline, seconds). Real
presets load ``from_pretrained`` weights from a local directory or hub id given by the user (each path
checked first), or with ``init="meta"`` build on the meta device from the shipped architecture configs
(``_arch.py``); the tests run the loading paths on tiny checkpoints saved to a temporary directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    CLIPVisionConfig,
    CLIPVisionModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    SiglipVisionModel,
    WhisperConfig,
    WhisperModel,
)
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from crabplus.errors import CrabplusError
from crabplus.model._arch import WeightsPathError, arch_config, check_weights_path, is_hub_id
from crabplus.model._assemble import assemble
from crabplus.model._avllm import AVLLM
from crabplus.model._beats import BEATs
from crabplus.model._chat import CHATML_TEMPLATE, CRAB_SYSTEM, LLAMA2_CHAT_TEMPLATE, QWEN_OMNI_SYSTEM
from crabplus.model._config import AVLLMConfig
from crabplus.model._tokens import load_tiny_tokenizer, omni_media_ids

__all__ = [
    "AUDIO_TOWERS", "AudioTower", "INITS", "PRESETS", "build_avllm", "check_preset_paths", "preset_names",
    "register_preset",
]  # fmt: skip

PRESETS: dict[str, Callable[..., AVLLM]] = {}
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(AVLLMConfig)}


def register_preset(name: str) -> Callable[[Callable[..., AVLLM]], Callable[..., AVLLM]]:
    """Decorator registering a preset builder under ``name``; duplicates are rejected."""

    def deco(fn: Callable[..., AVLLM]) -> Callable[..., AVLLM]:
        if name in PRESETS:
            raise ValueError(f"preset {name!r} is already registered")
        PRESETS[name] = fn
        return fn

    return deco


class UnknownPresetError(CrabplusError, KeyError):
    """A preset name the registry does not know."""


def preset_names() -> list[str]:
    return sorted(PRESETS)


def build_avllm(preset: str, **overrides: Any) -> AVLLM:
    """Build the AV-LLM of ``preset`` with ``overrides`` (config fields or preset arguments)."""
    if preset not in PRESETS:
        raise UnknownPresetError(
            f"model.init_args.preset: unknown model preset {preset!r}; valid: {', '.join(preset_names())}"
        )
    fn = PRESETS[preset]
    params = set(inspect.signature(fn).parameters) - {"config"}
    unknown = sorted(set(overrides) - params - _CONFIG_FIELDS)
    if unknown:
        raise TypeError(
            f"preset {preset!r}: unknown overrides {unknown}; valid: {sorted(params | _CONFIG_FIELDS)}"
        )
    return fn(**overrides)


def check_preset_paths(preset: str, overrides: dict[str, Any]) -> None:
    """Pre-flight of a preset's weight paths before anything is built (the CLI runs it after parsing).

    Every ``*_path`` argument of the preset is checked unless it builds with ``init="meta"``; the first
    problem raises :class:`WeightsPathError` with one line naming the key and the path.
    """
    if preset not in PRESETS or overrides.get("init") == "meta":
        return
    for key in inspect.signature(PRESETS[preset]).parameters:
        if key.endswith("_path"):
            check_weights_path(key, overrides.get(key))


def _config(defaults: dict[str, Any], overrides: dict[str, Any]) -> AVLLMConfig:
    """Preset defaults updated by the config-field overrides (``extra`` dicts are merged)."""
    values = {**defaults, **{k: v for k, v in overrides.items() if k in _CONFIG_FIELDS}}
    values["extra"] = {**defaults.get("extra", {}), **overrides.get("extra", {})}
    return AVLLMConfig(**values)


# ---------------------------------------------------------------------------- tiny presets
TINY_INIT_STD = 0.02  # HF default for the random blocks
TINY_HEAD_STD = 0.25  # output head only, see _widen_output_head


def _widen_output_head(head: torch.nn.Linear) -> None:
    """Rescale a random LM's output head to std TINY_HEAD_STD.

    A random LM stands in for a pretrained one. With HF's default std 0.02 the frozen head caps logits
    near ±1.3 after the final RMSNorm (|h| ≈ √d, |w| ≈ 0.02·√d), so adapter-only training cannot bring
    the loss below ~log(V) − 1.3; a pretrained head has no such cap. Widening only the head keeps the
    attention logits of the random blocks small, so information still flows between tokens.
    """
    with torch.no_grad():
        head.weight.mul_(TINY_HEAD_STD / head.weight.std().clamp_min(1e-8))


def _fan_in_audio_convs(encoder: torch.nn.Module, gain: float = math.sqrt(2.0)) -> None:
    """Rescale a random Whisper encoder's two input convolutions to std ``gain / sqrt(fan_in)``.

    A random encoder stands in for a pretrained one, whose features tell clips apart. With HF's std 0.02
    the convolutions' output is ~100x smaller than the sinusoidal positions added to it, so the encoder's
    output barely changes from clip to clip (pooled features vary by std ~0.006 over the synthetic world,
    against ~0.09 after this rescale) and a model trained on top reads the video and ignores the audio.
    """
    with torch.no_grad():
        for conv in (encoder.conv1, encoder.conv2):
            fan_in = conv.weight.shape[1] * conv.weight.shape[2]
            conv.weight.mul_(gain / math.sqrt(fan_in) / conv.weight.std().clamp_min(1e-8))


def _tiny_llama(vocab: int, tokenizer, hidden: int = 64, layers: int = 2) -> LlamaForCausalLM:
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=False,
            initializer_range=TINY_INIT_STD,
        )
    )


@register_preset("tiny-modular")
def tiny_modular(seed: int = 0, lm_hidden: int = 64, lm_layers: int = 2, **overrides: Any) -> AVLLM:
    """Random tiny Llama (d=64, 2 layers) + CLIP (2 layers, patch 8) + Whisper encoder (2 layers) + MLP connectors.

    Defaults: 4 frames of 32×32 (4 tokens each), 64-mel log-mel of 4 s (400 frames, 4 windows × 4 tokens).
    ``lm_hidden`` / ``lm_layers`` widen or deepen the LM (the demo's multitask study uses a wider one; the
    tests keep the smallest).
    """
    if lm_hidden % 4 or lm_hidden < 8 or lm_layers < 1:
        raise ValueError(
            f"tiny-modular: lm_hidden must be a multiple of 4 (>= 8) and lm_layers >= 1, "
            f"got {lm_hidden} and {lm_layers}"
        )
    cfg = _config({"paradigm": "modular"}, overrides)
    tok = load_tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lm = _tiny_llama(len(tok), tok, lm_hidden, lm_layers)
        _widen_output_head(lm.lm_head)
        vision = CLIPVisionModel(
            CLIPVisionConfig(
                image_size=cfg.frame_size,
                patch_size=8,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
            )
        )
        audio = WhisperEncoder(
            WhisperConfig(
                num_mel_bins=cfg.n_mels,
                d_model=32,
                encoder_layers=2,
                encoder_attention_heads=2,
                encoder_ffn_dim=64,
                max_source_positions=cfg.encoder_mel_frames // 2,
                vocab_size=len(tok),
                pad_token_id=tok.pad_token_id,
                decoder_start_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id,
                bos_token_id=tok.bos_token_id,
            )
        )
        _fan_in_audio_convs(audio)
        return assemble(cfg, lm, tok, vision, audio)


@register_preset("tiny-omni")
def tiny_omni(seed: int = 0, **overrides: Any) -> AVLLM:
    """Random tiny Qwen2.5-Omni thinker (LM d=64, 2 layers; towers 2 layers), identity/pool connectors.

    Defaults: 4 frames of 32×32 -> 2 temporal patches × 2×2 merged tokens = 8 video tokens; 4-s 64-mel
    log-mel -> 100 tower tokens, averaged by 10 -> 10 audio tokens.
    """
    cfg = _config({"paradigm": "omni", "audio_pool": 10}, overrides)
    tok = load_tiny_tokenizer()
    thinker_cfg = Qwen2_5OmniThinkerConfig(
        initializer_range=TINY_INIT_STD,  # the thinker's _init_weights reads its own, not text_config's
        audio_config={
            "num_mel_bins": cfg.n_mels,
            "encoder_layers": 2,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 64,
            "d_model": 32,
            "output_dim": 64,
            "n_window": 100,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "patch_size": 8,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 32,
            "out_hidden_size": 64,
            "fullatt_block_indexes": [1],
        },
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "pad_token_id": tok.pad_token_id,
            "initializer_range": TINY_INIT_STD,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        },
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        thinker = Qwen2_5OmniThinkerForConditionalGeneration(thinker_cfg)
        _widen_output_head(thinker.lm_head)
    thinker.generation_config.eos_token_id = tok.eos_token_id
    return assemble(cfg, thinker, tok, thinker.model.visual, thinker.model.audio_tower)


# ---------------------------------------------------------------------------- real-weight presets
INITS = ("pretrained", "meta")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def _check_init(preset: str, init: str) -> None:
    if init not in INITS:
        raise ValueError(f"preset {preset!r}: init={init!r}; valid: {list(INITS)}")


def _preflight(paths: dict[str, str | None]) -> None:
    """Check every ``*_path`` before anything loads (all of them, so one run names the first bad key)."""
    for key, value in paths.items():
        check_weights_path(key, value)


def _meta_tokenizer(path: str | None):
    """The download's tokenizer when ``path`` is a local folder holding one, else the tiny stand-in.

    A meta-device model never tokenises for training; the tokenizer only sizes the embeddings and lets
    ``crabplus plan`` count prompt tokens (with the stand-in those counts are marked as estimates).
    """
    if path and Path(path).is_dir() and any((Path(path) / f).is_file() for f in _TOKENIZER_FILES):
        return AutoTokenizer.from_pretrained(path), False
    return load_tiny_tokenizer(), True


def _device_for(init: str) -> contextlib.AbstractContextManager:
    """The meta device for ``init="meta"`` (nothing allocated), else where modules are built by default."""
    return torch.device("meta") if init == "meta" else contextlib.nullcontext()


def _on_meta(build: Callable[[], Any], dtype: str | None) -> Any:
    """Build a module on the meta device (shapes only, no memory, no weights), in ``dtype`` if given."""
    with torch.device("meta"):
        module = build()
    return module.to(getattr(torch, dtype)) if dtype else module


@dataclass(frozen=True)
class AudioTower:
    """One choice of the modular presets' audio encoder.

    ``arch``: shipped architecture name (``init: meta``); ``load(path, **kw)``: the module from a download;
    ``build(config)``: a fresh module from a config; ``features``: its front end ("whisper" log-mel or
    BEATs' "fbank"); ``on_hub``: whether ``audio_path`` may be a hub id. The tower must expose
    ``config.d_model`` (connector width), ``config.num_mel_bins`` and, for Whisper,
    ``config.max_source_positions`` (input frames = 2 x positions).
    """

    arch: str
    load: Callable[..., torch.nn.Module]
    build: Callable[[Any], torch.nn.Module]
    features: str = "whisper"
    on_hub: bool = True

    def defaults(self, audio: torch.nn.Module) -> dict[str, Any]:
        """The AVLLMConfig fields this tower decides: its front end, mel bins and input frames."""
        frames = 1000 if self.features == "fbank" else 2 * audio.config.max_source_positions
        return {
            "audio_features": self.features,
            "n_mels": audio.config.num_mel_bins,
            "encoder_mel_frames": frames,
        }


def _load_whisper_encoder(path: str, **kw: Any) -> WhisperEncoder:
    """Whisper encoder from an encoder-only save or from a full Whisper checkpoint (encoder taken out)."""
    archs = AutoConfig.from_pretrained(path).architectures or []
    if "WhisperEncoder" in archs:
        return WhisperEncoder.from_pretrained(path, **kw)
    return WhisperModel.from_pretrained(path, **kw).get_encoder()


#: Audio towers of the modular presets (``audio_tower=`` argument); a new tower is one more entry.
AUDIO_TOWERS: dict[str, AudioTower] = {
    "whisper": AudioTower(arch="whisper-large-v3", load=_load_whisper_encoder, build=WhisperEncoder),
    "beats": AudioTower(
        arch="beats-iter3-plus-as2m", load=BEATs.from_pretrained, build=BEATs, features="fbank", on_hub=False
    ),
}


def _load_vision(path: str, **kw: Any):
    """CLIP or SigLIP vision tower from a vision-only or a full (text+vision) checkpoint."""
    model_type = AutoConfig.from_pretrained(path).model_type
    cls = SiglipVisionModel if model_type.startswith("siglip") else CLIPVisionModel
    return cls.from_pretrained(path, **kw)


def _crab_parts(llm_path, vision_path, audio_path, tower: AudioTower, vision_arch: str, init: str, dtype):
    """(lm, tokenizer, vision, audio, tokenizer_is_stand_in) of the Crab layout."""
    if init == "meta":
        vision = _on_meta(lambda: CLIPVisionModel(arch_config(vision_arch, vision_path)), dtype)
        audio = _on_meta(lambda: tower.build(arch_config(tower.arch, audio_path)), dtype)
        lm = _on_meta(lambda: LlamaForCausalLM(arch_config("llama-2-7b-chat", llm_path)), dtype)
        tok, stand_in = _meta_tokenizer(llm_path)
        return lm, tok, vision, audio, stand_in
    _preflight({"llm_path": llm_path, "vision_path": vision_path, "audio_path": audio_path})
    if not tower.on_hub and is_hub_id(audio_path):
        raise WeightsPathError(
            f"model_overrides.audio_path: {audio_path} is not a local file and this audio tower is not on the "
            "hub; download its checkpoint and give the file's path"
        )
    kw = {"dtype": getattr(torch, dtype)} if dtype else {}
    vision = _load_vision(vision_path, **kw)
    audio = tower.load(audio_path, **kw)
    tok = AutoTokenizer.from_pretrained(llm_path)
    lm = AutoModelForCausalLM.from_pretrained(llm_path, **kw)
    return lm, tok, vision, audio, False


@register_preset("crab-llama2")
def crab_llama2(
    llm_path: str | None = None,
    vision_path: str | None = None,
    audio_path: str | None = None,
    init: str = "pretrained",
    dtype: str | None = None,
    audio_tower: str = "beats",
    vision_arch: str = "clip-vit-large-patch14",
    **overrides: Any,
) -> AVLLM:
    """Crab layout: LLaMA-2 chat + CLIP ViT-L/14 (penultimate layer) + an audio tower + Q-Former connectors.

    ``init="pretrained"``: ``*_path`` are local folders (a user's download, checked before loading) or hub
    ids. ``init="meta"``: no weights; the parts are built on the meta device from the shipped architecture
    configs (or from ``*_path``'s ``config.json`` when the folder exists), for ``crabplus plan``.
    ``audio_tower`` picks an entry of ``AUDIO_TOWERS``: Crab's own BEATs (``audio_path``: the official
    ``.pt``, e.g. ``BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt``; 1-s windows of fbank, 48 tokens
    each) or Whisper (a transformers folder or hub id).
    ``vision_arch`` names the shipped CLIP config used with ``init="meta"`` (224 or 336 px).
    Defaults follow Crab: 10 frames, 32 Q-Former queries per frame and per 1-s window, 10-s clips.
    """
    _check_init("crab-llama2", init)
    if audio_tower not in AUDIO_TOWERS:
        raise ValueError(f"crab-llama2: audio_tower={audio_tower!r}; valid: {sorted(AUDIO_TOWERS)}")
    lm, tok, vision, audio, stand_in = _crab_parts(
        llm_path, vision_path, audio_path, AUDIO_TOWERS[audio_tower], vision_arch, init, dtype
    )
    defaults = {
        "paradigm": "modular",
        "num_frames": 10,
        "frame_size": vision.config.image_size,
        "mel_frames": 1000,
        **AUDIO_TOWERS[audio_tower].defaults(audio),
        "tokens_per_frame": 32,
        "audio_windows": 10,
        "tokens_per_window": 32,
        "connector": "qformer",
        "qformer_dim": 768,
        "qformer_layers": 2,
        "qformer_heads": 12,
        "mask_dim": 256,
        "chat_template": True,
        "system_prompt": CRAB_SYSTEM,
        "extra": {"vision_feature_layer": -2, "audio_tower": audio_tower, **_meta_note(init, stand_in)},
    }
    cfg = _config(defaults, overrides)
    _ensure_template(tok, LLAMA2_CHAT_TEMPLATE)
    with _device_for(init):  # connectors and mask head live where the parts do
        return assemble(cfg, lm, tok, vision, audio)


def _ensure_template(tokenizer, fallback: str) -> None:
    """Give a tokenizer without a chat template the preset's format (its own template always wins)."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = fallback


def _meta_note(init: str, stand_in: bool) -> dict[str, Any]:
    """Recorded in ``config.extra`` so ``plan`` can say its token counts come from a stand-in tokenizer."""
    if init != "meta":
        return {}
    return {"init": "meta", "tokenizer_stand_in": stand_in}


def _omni_thinker(omni_path: str | None, init: str, dtype: str | None):
    if init == "meta":
        return _on_meta(
            lambda: Qwen2_5OmniThinkerForConditionalGeneration(
                arch_config("qwen2.5-omni-7b-thinker", omni_path)
            ),
            dtype,
        )
    _preflight({"omni_path": omni_path})
    kw = {"dtype": getattr(torch, dtype)} if dtype else {}
    if AutoConfig.from_pretrained(omni_path).model_type == "qwen2_5_omni":
        return Qwen2_5OmniForConditionalGeneration.from_pretrained(
            omni_path, enable_audio_output=False, **kw
        ).thinker
    return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(omni_path, **kw)


@register_preset("qwen2.5-omni-7b")
def qwen25_omni_7b(
    omni_path: str | None = None, init: str = "pretrained", dtype: str | None = None, **overrides: Any
) -> AVLLM:
    """Crab+ layout: the Qwen2.5-Omni thinker (its own audio and vision towers), talker not loaded.

    ``omni_path`` is a thinker saved with ``save_pretrained`` or a full Qwen2.5-Omni checkpoint/hub id;
    ``init="meta"`` builds the thinker from the shipped config on the meta device (no weights).
    Defaults: 10 frames at 224 px (8×8 merged tokens per 2 frames), 128-mel 10-s audio (250 tokens). With
    the download's tokenizer the sequence is the processor's: chat template, each media block wrapped in
    its start/end tokens, video and audio as separate blocks (Crab+ runs with ``use_audio_in_video=False``).
    """
    _check_init("qwen2.5-omni-7b", init)
    thinker = _omni_thinker(omni_path, init, dtype)
    if init == "meta":
        tok, stand_in = _meta_tokenizer(omni_path)
    else:
        tok, stand_in = AutoTokenizer.from_pretrained(omni_path), False
    defaults = {
        "paradigm": "omni",
        "num_frames": 10,
        "frame_size": 224,
        "n_mels": thinker.config.audio_config.num_mel_bins,
        "mel_frames": 1000,
        "encoder_mel_frames": 3000,  # its WhisperFeatureExtractor pads every clip to 30 s
        "audio_pool": 1,  # every tower token, as the processor gives them
        "mask_dim": 256,
        "add_bos": False,
        "chat_template": True,
        "system_prompt": QWEN_OMNI_SYSTEM,
        "native_media_tokens": omni_media_ids(tok) is not None,  # every Qwen2.5-Omni tokenizer has them
        "extra": _meta_note(init, stand_in),
    }
    cfg = _config(defaults, overrides)
    _ensure_template(tok, CHATML_TEMPLATE)
    with _device_for(init):
        return assemble(cfg, thinker, tok, thinker.model.visual, thinker.model.audio_tower)
