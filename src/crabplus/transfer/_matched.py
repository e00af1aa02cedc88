"""The parameter-matched control of an I-LoRA recipe: the plain LoRA (K = 1) that trains as many parameters.

Why: I-LoRA with K heads of rank r trains more adapter parameters than a plain LoRA of rank r, so "I-LoRA
beats LoRA" may only say "more parameters help". Per wrapped ``Linear(d_in, d_out)`` plain LoRA of rank ρ
trains ρ·(d_in + d_out), so the model's trainable count is linear in ρ: ``N(ρ) = N₀ + ρ·k``. Counting two
ranks on the real model (``crabplus.model.build_adapted_avllm``, as ``AVLLMModule`` builds it, so
connectors and encoder targets count as they train) gives N₀ and k; the matched rank is
``ρ* = max(1, round((N_ilora − N₀) / k))``. alpha is scaled with the rank (alpha/rank, the LoRA scaling,
is kept).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crabplus.transfer._recipe import init_args

__all__ = ["MatchedLoRA", "derive_matched_lora", "trainable_count"]

ROUTING_CALLBACK = "RoutingStatsCallback"  # reads router statistics: a K = 1 adapter has no router


@dataclass(frozen=True)
class MatchedLoRA:
    """The derived config, its rank, and the trainable counts it was matched on."""

    config: dict[str, Any]
    rank: int
    ilora_trainable: int
    lora_trainable: int
    same_rank_trainable: int

    def describe(self) -> str:
        gap = (self.lora_trainable - self.ilora_trainable) / self.ilora_trainable
        return (
            f"matched-rank LoRA: rank {self.rank} trains {self.lora_trainable:,} parameters vs I-LoRA's "
            f"{self.ilora_trainable:,} ({gap:+.2%}); same-rank LoRA trains {self.same_rank_trainable:,}"
        )


def trainable_count(model_args: Mapping[str, Any], adapter: Mapping[str, Any]) -> int:
    """Trainable parameters of the module the config builds with ``adapter`` (built on the CPU, not trained)."""
    from crabplus.config_blocks import as_config
    from crabplus.lora import ILoRAConfig
    from crabplus.model import build_adapted_avllm

    _, count = build_adapted_avllm(
        model_args.get("preset", "tiny-modular"),
        dict(model_args.get("model_overrides") or {}),
        as_config(ILoRAConfig, dict(adapter), "model.init_args.adapter"),
        model_args.get("trainable", "adapters+connectors"),
    )
    return int(count)


def derive_matched_lora(config: Mapping[str, Any], run_name: str | None = None) -> MatchedLoRA:
    """From an I-LoRA LightningCLI config, the plain-LoRA config with the closest trainable count."""
    model = init_args(config.get("model"))
    adapter = dict(model.get("adapter") or {})
    if int(adapter.get("heads", 1)) <= 1:
        raise ValueError(
            "config key 'model.adapter.heads' must be > 1 (an I-LoRA recipe) to derive its matched LoRA"
        )
    rank = int(adapter.get("rank", 8))
    target = trainable_count(model, adapter)
    one, two = (trainable_count(model, {**adapter, "heads": 1, "rank": r}) for r in (1, 2))
    per_rank, base = two - one, 2 * one - two
    matched = max(1, round((target - base) / per_rank))
    out = copy.deepcopy(dict(config))
    section = out["model"]
    args = section["init_args"] if "init_args" in section else section
    alpha = float(adapter.get("alpha", 16.0))
    args["adapter"] = {**adapter, "heads": 1, "rank": matched, "alpha": alpha * matched / rank}
    args["variant"] = "lora"
    trainer = out.get("trainer") or {}
    trainer["callbacks"] = [
        c
        for c in trainer.get("callbacks") or []
        if not str((c or {}).get("class_path", "")).endswith(ROUTING_CALLBACK)
    ]
    if run_name is not None:
        out["run_name"] = run_name
    return MatchedLoRA(out, matched, target, base + matched * per_rank, base + rank * per_rank)
