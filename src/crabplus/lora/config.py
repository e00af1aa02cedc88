"""``ILoRAConfig``: every knob of the I-LoRA adapter, with the Crab / Crab+ presets.

Target patterns. Each entry of ``target_modules`` / ``encoder_target_modules`` is matched against the
**full** module name (``model.named_modules()``), in one of two ways:

- suffix: the name equals the entry or ends with ``"." + entry`` (peft's rule), e.g. ``"q_proj"`` or
  ``"mlp.fc1"``;
- regex: ``re.fullmatch(entry, name)``, e.g. ``r"language_model\\..*\\.(q|k|v)_proj"``.

``target_modules`` (the LLM targets) never match inside an encoder: modules whose name contains a
component listed in ``encoder_prefixes`` (default ``audio_encoder``, ``vision_encoder``) are skipped, so
a suffix ``q_proj`` hits the LM's attention and not Whisper's. ``encoder_target_modules`` maps an encoder
prefix to its own patterns, applied only to names under that prefix. Only ``nn.Linear`` modules are
wrapped; a pattern that matches nothing raises (the error lists a few candidate names).

Routing (``routing``): a name registered in :mod:`crabplus.lora.gates`. Built in:
    ``token``: dense softmax over K heads of ``x W_rᵀ`` per token (Crab, HydraLoRA).
    ``topk``: the same logits, the ``top_k`` largest kept and re-normalised by a softmax over them.
    ``task``: gate = softmax of a learned per-layer table row ``T[task_id]`` (MOELoRA-style; task ids
    come from :func:`crabplus.lora.routing_inputs`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from crabplus.config_blocks import as_config
from crabplus.errors import ConfigError
from crabplus.lora.gates import GATES, names

__all__ = ["ILoRAConfig", "LLM_TARGETS", "INITS"]

LLM_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Crab's seven Llama/Qwen2 projections (suffix patterns)."""

INITS = ("kaiming", "gaussian")

_CRAB_PLUS_ENCODERS: dict[str, list[str]] = {
    # Whisper / Qwen2.5-Omni audio tower attention.
    "audio_encoder": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
    # CLIP vision MLP (fc1/fc2) or Qwen2.5-VL/Omni vision MLP (gate/up/down).
    "vision_encoder": ["mlp.fc1", "mlp.fc2", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"],
}


@dataclass
class ILoRAConfig:
    """I-LoRA settings.

    Notation: K heads, rank r, scaling s = alpha / r. Per wrapped ``Linear(d_in, d_out)``:
    A (r, d_in) shared, B_i (d_out, r) per head, W_r (K, d_in) router, all without bias.

    Args:
        heads: K. ``heads=1`` is plain LoRA (no router parameter: softmax over one logit is 1).
        rank: r, the rank of the shared down-projection A (every head has rank r; r is not split).
        alpha: LoRA alpha; s = alpha / rank.
        dropout: dropout probability on the adapter input (the router reads the un-dropped input).
        shared_dropout: True = one dropout sample shared by all heads (Crab+); False = an independent
            sample per head, each head recomputing A·drop_i(x) (Crab).
        target_modules: LLM patterns (suffix or regex on full names, see module docstring).
        encoder_target_modules: ``{encoder_prefix: patterns}``, e.g. ``{"audio_encoder": ["q_proj"]}``.
        encoder_prefixes: name components that mark encoder sub-trees excluded from ``target_modules``.
        routing: a registered routing variant: ``token`` | ``topk`` | ``task`` built in.
        top_k: heads kept per token when ``routing="topk"``.
        num_tasks: rows of the task gate table when ``routing="task"`` (task ids must be < num_tasks).
        balance_loss_coef: weight of the router balance loss (cv² of per-head load; 0 disables it).
        init: ``kaiming`` (A, W_r ~ U(±1/√d_in), B_i = 0; Crab) or ``gaussian`` (A ~ N(0, 1/r), peft's
            ``init_lora_weights="gaussian"``; W_r as kaiming; B_i = 0).
        freeze_base: set ``requires_grad=False`` on every non-adapter parameter during injection.
    """

    heads: int = 3
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    shared_dropout: bool = False
    target_modules: list[str] = field(default_factory=lambda: list(LLM_TARGETS))
    encoder_target_modules: dict[str, list[str]] = field(default_factory=dict)
    encoder_prefixes: list[str] = field(default_factory=lambda: ["audio_encoder", "vision_encoder"])
    routing: str = "token"
    top_k: int = 1
    num_tasks: int = 0
    balance_loss_coef: float = 0.0
    init: str = "kaiming"
    freeze_base: bool = True

    def __post_init__(self) -> None:
        self.target_modules = list(self.target_modules)
        self.encoder_target_modules = {k: list(v) for k, v in dict(self.encoder_target_modules).items()}
        self.encoder_prefixes = list(self.encoder_prefixes)
        for prefix in self.encoder_target_modules:
            if prefix not in self.encoder_prefixes:
                self.encoder_prefixes.append(prefix)
        self._validate()

    def _validate(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"ILoRAConfig.{key}: {why} (config key model.init_args.adapter.{key})")

        if self.heads < 1:
            raise bad("heads", f"must be >= 1, got {self.heads}")
        if self.rank < 1:
            raise bad("rank", f"must be >= 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", f"must be in [0, 1), got {self.dropout}")
        if self.routing not in GATES:
            raise bad("routing", f"expected one of {names()}, got {self.routing!r}")
        if self.init not in INITS:
            raise bad("init", f"expected one of {list(INITS)}, got {self.init!r}")
        problem = GATES[self.routing].check(self)
        if problem is not None:
            raise bad(*problem)
        if self.balance_loss_coef < 0:
            raise bad("balance_loss_coef", f"must be >= 0, got {self.balance_loss_coef}")

    @property
    def scaling(self) -> float:
        """s = alpha / rank."""
        return self.alpha / self.rank

    # ----- presets --------------------------------------------------------------------------------------
    @classmethod
    def crab(cls, **overrides: Any) -> ILoRAConfig:
        """Crab (LLaMA-2-7B): K=3, r=8, alpha=16, dropout 0.05 drawn per head, 7 LLM projections."""
        values: dict[str, Any] = dict(heads=3, rank=8, alpha=16.0, dropout=0.05, shared_dropout=False)
        return cls(**{**values, **overrides})

    @classmethod
    def crab_plus(cls, **overrides: Any) -> ILoRAConfig:
        """Crab+ (Qwen2.5-Omni): K=3, r=128, alpha=256, dropout 0.1 shared, LLM + encoder targets."""
        values: dict[str, Any] = dict(
            heads=3, rank=128, alpha=256.0, dropout=0.1, shared_dropout=True,
            encoder_target_modules={k: list(v) for k, v in _CRAB_PLUS_ENCODERS.items()},
        )  # fmt: skip
        return cls(**{**values, **overrides})

    @classmethod
    def lora(cls, rank: int = 8, alpha: float = 16.0, dropout: float = 0.05, **overrides: Any) -> ILoRAConfig:
        """Plain LoRA (K=1): numerically peft's LoRA with the same weights."""
        values: dict[str, Any] = dict(heads=1, rank=rank, alpha=alpha, dropout=dropout, shared_dropout=True)
        return cls(**{**values, **overrides})

    # ----- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ILoRAConfig:
        """Inverse of :meth:`to_dict`; unknown keys and wrong types raise (named), so typos are not dropped."""
        return as_config(cls, values, "ILoRAConfig")
