"""BEATs, Crab's audio tower (Chen et al., "BEATs: Audio Pre-Training with Acoustic Tokenizers", 2022).

Notation: B batch, T fbank frames, M mel bins, p patch side, N = (T / p)·(M / p) patch tokens, D width,
H heads, h = D / H head width.

Architecture (the paper's model section and the released model's config): the normalised fbank (B, T, M) is cut into
p×p patches by a stride-p convolution (no bias), layer-normalised and projected to D; a wav2vec-2-style
convolutional position embedding (a grouped, weight-normalised Conv1d over time, then GELU) is added;
then post-LN transformer layers with DeepNorm residual scaling ``x·(2L)^(1/4) + f(x)``, and self-attention
with a T5-style bucketed relative position bias (one table shared by every layer) scaled per query by
WavLM's gate: ``g = σ(a)·(σ(b)·c − 1) + 2`` where ``a, b`` are sums of four outputs each of a small
linear map of the query head and ``c`` is a learned scalar per head. Fine-tuned checkpoints add a linear
AudioSet classifier (``predictor``); Crab reads the encoder output, not the classifier.

Module and parameter names follow the official checkpoint (a ``.pt`` with ``cfg`` and ``model``) so its
state dict loads as is; ``load_beats`` does that. The fbank front end is ``crabplus.data.features``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from crabplus.config_blocks import ConfigError, as_config

__all__ = [
    "BEATs",
    "BEATsConfig",
    "load_beats",
    "load_beats_folder",
    "relative_position_buckets",
    "save_beats_folder",
]

#: Config keys of the official checkpoint that only matter for pre-training / fine-tuning (dropouts,
#: layer drop, gradient tricks); an inference encoder has nothing to do with them.
_TRAINING_ONLY = {
    "dropout", "attention_dropout", "activation_dropout", "encoder_layerdrop", "dropout_input",
    "layer_wise_gradient_decay_ratio", "predictor_dropout",
}  # fmt: skip


@dataclass
class BEATsConfig:
    """The released BEATs config (defaults: iter3+ fine-tuned on AS2M); ``from_checkpoint_cfg`` reads one.

    ``d_model`` and ``num_mel_bins`` name the width and the input bins the way the presets read them.
    """

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = True
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = True
    predictor_class: int = 527
    num_mel_bins: int = 128

    def __post_init__(self) -> None:
        if self.activation_fn != "gelu":
            raise ValueError(f"BEATsConfig.activation_fn={self.activation_fn!r}; only 'gelu' is implemented")
        if self.deep_norm and self.layer_norm_first:
            raise ValueError("BEATsConfig: deep_norm and layer_norm_first exclude each other")

    @property
    def d_model(self) -> int:
        return self.encoder_embed_dim

    @classmethod
    def from_checkpoint_cfg(cls, cfg: dict[str, Any], source: str = "checkpoint") -> BEATsConfig:
        """From the ``cfg`` dict of an official ``.pt``: its training-only keys are dropped, the rest is
        typed by :func:`as_config` like every config block (a wrong type names ``<source>: cfg.<key>``).

        Unknown keys are listed all at once, since a checkpoint of another BEATs variant may carry several.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - names - _TRAINING_ONLY)
        if unknown:
            raise ConfigError(f"{source}: BEATs cfg keys {unknown} are not supported; known: {sorted(names)}")
        kept = {k: v for k, v in cfg.items() if k not in _TRAINING_ONLY}
        return as_config(cls, kept, f"{source}: cfg")

    def to_checkpoint_cfg(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def relative_position_buckets(rel: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bidirectional T5 buckets of ``rel = key - query``: half the buckets per sign; within a half, exact
    distances below a quarter of ``num_buckets``, then log-spaced up to ``max_distance`` (clamped)."""
    half = num_buckets // 2
    exact = half // 2
    bucket = (rel > 0).long() * half
    dist = rel.abs()
    far = exact + (
        torch.log(dist.float().clamp_min(1) / exact) / math.log(max_distance / exact) * (half - exact)
    )
    far = far.long().clamp(max=half - 1)
    return bucket + torch.where(dist < exact, dist, far)


class _WeightNormConv1d(nn.Module):
    """Conv1d whose kernel is ``g · v / ‖v‖`` with the norm over (out, in) per tap (weight norm on dim 2).

    Stored as ``weight_g`` (1, 1, K) and ``weight_v`` (D, D / groups, K), the checkpoint's names.
    """

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.groups, self.padding = groups, kernel // 2
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.randn(dim, dim // groups, kernel) * 0.02)
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


class _Attention(nn.Module):
    def __init__(self, cfg: BEATsConfig, relative_bias: nn.Embedding | None) -> None:
        super().__init__()
        d, self.heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.head_dim = d // self.heads
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)
        if relative_bias is not None:  # the same table in every layer (saved under each layer's name)
            self.relative_attention_bias = relative_bias
        self.gated = cfg.gru_rel_pos
        if self.gated:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        return x.view(B, N, self.heads, self.head_dim).transpose(1, 2)  # (B, H, N, h)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor | None) -> torch.Tensor:
        """(B, N, D), bias (H, N, N) or None -> (B, N, D)."""
        q, k, v = self._heads(self.q_proj(x)), self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        bias = None
        if position_bias is not None:
            bias = position_bias[None]  # (1, H, N, N)
            if self.gated:
                B, H, N, _ = q.shape
                a, b = torch.sigmoid(self.grep_linear(q).view(B, H, N, 2, 4).sum(-1)).unbind(-1)  # (B, H, N)
                gate = a * (b * self.grep_a[..., 0] - 1.0) + 2.0
                bias = gate[..., None] * position_bias[None]  # (B, H, N, N)
            bias = bias.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B, H, N, h)
        return self.out_proj(out.transpose(1, 2).flatten(2))


class _Layer(nn.Module):
    def __init__(self, cfg: BEATsConfig, relative_bias: nn.Embedding | None) -> None:
        super().__init__()
        d = cfg.encoder_embed_dim
        self.self_attn = _Attention(cfg, relative_bias)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, cfg.encoder_ffn_embed_dim), nn.Linear(cfg.encoder_ffn_embed_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.pre_norm = cfg.layer_norm_first
        self.residual_scale = (2.0 * cfg.encoder_layers) ** 0.25 if cfg.deep_norm else 1.0

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor | None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.self_attn(self.self_attn_layer_norm(x), position_bias)
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x * self.residual_scale + self.self_attn(x, position_bias))
        return self.final_layer_norm(x * self.residual_scale + self.fc2(F.gelu(self.fc1(x))))


class _Encoder(nn.Module):
    def __init__(self, cfg: BEATsConfig) -> None:
        super().__init__()
        d = cfg.encoder_embed_dim
        self.pos_conv = nn.Sequential(_WeightNormConv1d(d, cfg.conv_pos, cfg.conv_pos_groups))
        self.trim_last = cfg.conv_pos % 2 == 0  # an even kernel with padding K/2 gives one extra frame
        table = (
            nn.Embedding(cfg.num_buckets, cfg.encoder_attention_heads)
            if cfg.relative_position_embedding
            else None
        )
        self.num_buckets, self.max_distance = cfg.num_buckets, cfg.max_distance
        self.layers = nn.ModuleList(_Layer(cfg, table) for _ in range(cfg.encoder_layers))
        self.table = [table]  # kept out of the module tree (the layers own it under the checkpoint's names)
        self.layer_norm = nn.LayerNorm(d)
        self.layer_norm_first = cfg.layer_norm_first

    def position_bias(self, n: int, device) -> torch.Tensor | None:
        """(H, N, N) bias of key position j for query position i, from the shared bucket table."""
        table = self.table[0]
        if table is None:
            return None
        pos = torch.arange(n, device=device)
        return table(
            relative_position_buckets(pos[None] - pos[:, None], self.num_buckets, self.max_distance)
        ).permute(2, 0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.pos_conv(x.transpose(1, 2))  # (B, D, N + 1 if the kernel is even)
        if self.trim_last:
            conv = conv[..., :-1]
        x = x + F.gelu(conv).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        bias = self.position_bias(x.shape[1], x.device)
        for layer in self.layers:
            x = layer(x, bias)
        return self.layer_norm(x) if self.layer_norm_first else x


class BEATs(nn.Module):
    """BEATs encoder: normalised fbank (B, T, M) -> ``last_hidden_state`` (B, (T/p)·(M/p), D)."""

    def __init__(self, config: BEATsConfig) -> None:
        super().__init__()
        self.config = config
        p, e = config.input_patch_size, config.embed_dim
        self.patch_embedding = nn.Conv2d(1, e, kernel_size=p, stride=p, bias=config.conv_bias)
        self.layer_norm = nn.LayerNorm(e)
        if e != config.encoder_embed_dim:
            self.post_extract_proj = nn.Linear(e, config.encoder_embed_dim)
        self.encoder = _Encoder(config)
        if config.finetuned_model:
            self.predictor = nn.Linear(config.encoder_embed_dim, config.predictor_class)

    def tokens_per_input(self, frames: int) -> int:
        """Patch tokens of an input of ``frames`` fbank frames (the time axis is floored to whole patches)."""
        p = self.config.input_patch_size
        return (frames // p) * (self.config.num_mel_bins // p)

    def forward(self, input_features: torch.Tensor) -> BaseModelOutput:
        x = self.patch_embedding(input_features[:, None])  # (B, e, T/p, M/p)
        x = self.layer_norm(x.flatten(2).transpose(1, 2))  # (B, N, e), time-major, mel fastest
        if hasattr(self, "post_extract_proj"):
            x = self.post_extract_proj(x)
        return BaseModelOutput(last_hidden_state=self.encoder(x))

    def checkpoint(self) -> dict[str, Any]:
        """The official ``.pt`` layout: ``{"cfg": dict, "model": state dict}``."""
        return {"cfg": self.config.to_checkpoint_cfg(), "model": self.state_dict()}

    def save_pretrained(self, directory: str | Path) -> None:
        save_beats_folder(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, dtype: torch.dtype | None = None, **_: Any) -> BEATs:
        """A BEATs saved by ``save_pretrained`` (folder) or an official checkpoint file (``.pt``)."""
        if Path(directory).is_file():
            return load_beats(directory, dtype)
        return load_beats_folder(directory, dtype)


def load_beats(path: str | Path, dtype: torch.dtype | None = None) -> BEATs:
    """A BEATs from an official checkpoint file; a missing or unexpected key is an error naming the file."""
    ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "cfg" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{path}: not a BEATs checkpoint (expected a dict with 'cfg' and 'model')")
    cfg = ckpt["cfg"] if isinstance(ckpt["cfg"], dict) else vars(ckpt["cfg"])
    model = BEATs(BEATsConfig.from_checkpoint_cfg(cfg, str(path)))
    state = _canonical_keys(ckpt["model"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    shared = "encoder.layers.0.self_attn.relative_attention_bias.weight"
    if shared in state:  # the table is one tensor: a save holding only layer 0's copy is complete
        missing = [k for k in missing if not k.endswith("self_attn.relative_attention_bias.weight")]
    if missing or unexpected:
        raise ValueError(f"{path}: BEATs keys missing {missing[:5]} / unexpected {unexpected[:5]}")
    return model.to(dtype) if dtype else model


def _canonical_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The release's names: a re-save under torch's newer weight-norm parametrisation maps back to g / v."""
    renames = {
        "parametrizations.weight.original0": "weight_g",
        "parametrizations.weight.original1": "weight_v",
    }
    out = {}
    for key, value in state.items():
        for new, old in renames.items():
            key = key.replace(new, old)
        out[key] = value
    return out


def save_beats_folder(model: BEATs, directory: str | Path) -> None:
    """``config.json`` (the checkpoint's cfg) + ``model.safetensors``: the AV-LLM's save layout for a tower.

    The shared position table is written under every layer's name (as the official checkpoint has it);
    safetensors refuses aliased tensors, so each entry is its own copy.
    """
    import json

    from safetensors.torch import save_file

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    cfg = {**model.config.to_checkpoint_cfg(), "architectures": ["BEATs"]}
    (root / "config.json").write_text(json.dumps(cfg, indent=2))
    save_file(
        {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
        str(root / "model.safetensors"),
    )


def load_beats_folder(directory: str | Path, dtype: torch.dtype | None = None) -> BEATs:
    """Inverse of :func:`save_beats_folder`."""
    import json

    from safetensors.torch import load_file

    root = Path(directory)
    cfg = json.loads((root / "config.json").read_text())
    if "model_type" in cfg:
        raise ValueError(
            f"{root}: a transformers checkpoint ({cfg['model_type']}), not BEATs; give BEATs' official .pt, "
            "or audio_tower: whisper for a Whisper folder"
        )
    cfg = {k: v for k, v in cfg.items() if k != "architectures"}
    model = BEATs(BEATsConfig.from_checkpoint_cfg(cfg, str(root / "config.json")))
    model.load_state_dict(load_file(str(root / "model.safetensors")))
    return model.to(dtype) if dtype else model
