"""Assemble an ``AVLLM`` from its HF parts: connectors and mask head are sized from the parts.

Shared by the presets (fresh or ``from_pretrained`` parts) and ``load_avllm`` (saved parts), so the
in-memory model and the reloaded one are built by the same code.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from crabplus.model._avllm import AVLLM
from crabplus.model._config import AVLLMConfig
from crabplus.model._connectors import PoolConnector, build_connector
from crabplus.model._mask_head import MaskHead
from crabplus.model._tokens import add_av_tokens

__all__ = ["assemble"]


def _modular_connectors(config: AVLLMConfig, lm_dim: int, vision: nn.Module | None, audio: nn.Module | None):
    q = {
        "qformer_dim": config.qformer_dim,
        "qformer_layers": config.qformer_layers,
        "qformer_heads": config.qformer_heads,
    }
    v_conn = a_conn = None
    if vision is not None:
        v_conn = build_connector(
            config.connector, vision.config.hidden_size, lm_dim, config.tokens_per_frame, spatial=True, **q
        )
    if audio is not None:
        a_conn = build_connector(
            config.connector, audio.config.d_model, lm_dim, config.tokens_per_window, spatial=False, **q
        )
    return v_conn, a_conn


def assemble(
    config: AVLLMConfig,
    language_model: nn.Module,
    tokenizer: Any,
    vision_encoder: nn.Module | None = None,
    audio_encoder: nn.Module | None = None,
) -> AVLLM:
    """Add AV tokens to the tokenizer, record class names, build connectors + mask head, return the model."""
    add_av_tokens(tokenizer)
    config.lm_class = type(language_model).__name__
    config.vision_class = type(vision_encoder).__name__ if vision_encoder is not None else ""
    config.audio_class = type(audio_encoder).__name__ if audio_encoder is not None else ""
    lm_dim = language_model.get_input_embeddings().embedding_dim
    if config.paradigm == "omni":
        v_conn, a_conn = PoolConnector(1), PoolConnector(config.audio_pool)
        feat_dim = lm_dim  # the vision tower's merger already outputs LM width
    else:
        v_conn, a_conn = _modular_connectors(config, lm_dim, vision_encoder, audio_encoder)
        feat_dim = vision_encoder.config.hidden_size if vision_encoder is not None else 0
    head = (
        MaskHead(lm_dim, feat_dim, config.mask_dim)
        if config.mask_head and vision_encoder is not None
        else None
    )
    return AVLLM(config, language_model, tokenizer, vision_encoder, audio_encoder, v_conn, a_conn, head)
