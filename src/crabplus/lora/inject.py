"""Wrap the targeted ``nn.Linear`` modules of any model in :class:`ILoRALinear` and freeze the rest.

Pattern rules are documented in :mod:`crabplus.lora.config`. Injection is in place: the wrapper
re-uses the original weight/bias Parameters, so the base model's state-dict keys do not change and
the adapter adds only ``…lora_*`` keys (which is what ``AVLLMModule`` uses to pick trainables).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import torch.nn as nn

from crabplus.lora.config import ILoRAConfig
from crabplus.lora.layer import ILoRALinear

__all__ = ["inject", "ilora_layers", "matches", "plan_targets", "is_injected"]

_REGEX_CHARS = re.compile(r"[\\^$*+?()\[\]{}|]")


def matches(name: str, pattern: str) -> bool:
    """Suffix match (``name == p`` or ``name.endswith('.' + p)``) or, if ``pattern`` has regex
    metacharacters, ``re.fullmatch(pattern, name)``."""
    if name == pattern or name.endswith("." + pattern):
        return True
    return bool(_REGEX_CHARS.search(pattern)) and re.fullmatch(pattern, name) is not None


def _encoder_of(name: str, prefixes: Iterable[str]) -> str | None:
    """The encoder prefix that ``name`` lies under (as a dotted path component), or None."""
    parts = name.split(".")
    for prefix in prefixes:
        width = prefix.count(".") + 1
        if any(".".join(parts[i : i + width]) == prefix for i in range(len(parts) - width + 1)):
            return prefix
    return None


def plan_targets(model: nn.Module, config: ILoRAConfig) -> dict[str, str]:
    """``{module name: group}`` of the linears to wrap; group is ``llm`` or an encoder prefix.

    Raises ValueError naming the config key when one of its patterns matches no ``nn.Linear``.
    """
    linears = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and not isinstance(m, ILoRALinear) and ".lora_" not in f".{n}"
    ]  # never re-wrap an I-LoRA layer or its own lora_A/lora_B
    plan: dict[str, str] = {}
    used: set[tuple[str, str]] = set()
    for name in linears:
        encoder = _encoder_of(name, config.encoder_prefixes)
        if encoder is None:
            hit = next((p for p in config.target_modules if matches(name, p)), None)
            key = "target_modules"
        else:
            hit = next((p for p in config.encoder_target_modules.get(encoder, []) if matches(name, p)), None)
            key = f"encoder_target_modules[{encoder!r}]"
        if hit is not None:
            plan[name] = encoder or "llm"
            used.add((key, hit))
    _check_all_patterns_used(config, used, linears)
    return plan


def _check_all_patterns_used(config: ILoRAConfig, used: set[tuple[str, str]], linears: list[str]) -> None:
    wanted = [("target_modules", p) for p in config.target_modules]
    for encoder, patterns in config.encoder_target_modules.items():
        wanted += [(f"encoder_target_modules[{encoder!r}]", p) for p in patterns]
    groups: dict[str, list[str]] = {}
    for key, pattern in wanted:
        if (key, pattern) not in used:
            groups.setdefault(key, []).append(pattern)
    # A pattern list that matches nothing at all is a mistake; single unmatched alternatives inside a
    # list that does match (e.g. CLIP fc1/fc2 vs Qwen gate/up/down) are expected.
    for key, missing in groups.items():
        total = sum(1 for k, _ in wanted if k == key)
        if len(missing) == total:
            sample = ", ".join(linears[:8]) or "<no nn.Linear in the model>"
            raise ValueError(f"ILoRAConfig.{key}: no nn.Linear matches {missing}; e.g. {sample}")


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def inject(model: nn.Module, config: ILoRAConfig) -> nn.Module:
    """Wrap every targeted linear of ``model`` in place and (``config.freeze_base``) freeze the rest.

    Returns ``model`` (with ``model.ilora_config`` set). Raises if the model already has I-LoRA layers.
    """
    if is_injected(model):
        raise ValueError("inject: the model already has I-LoRA layers")
    plan = plan_targets(model, config)
    if config.freeze_base:
        for param in model.parameters():
            param.requires_grad_(False)
    for name, group in plan.items():
        base = model.get_submodule(name)
        assert isinstance(base, nn.Linear)
        _set_submodule(model, name, ILoRALinear(base, config, group=group))
    model.ilora_config = config  # type: ignore[assignment]
    return model


def ilora_layers(model: nn.Module) -> Iterator[tuple[str, ILoRALinear]]:
    """(full name, layer) of every I-LoRA layer, in module order."""
    for name, module in model.named_modules():
        if isinstance(module, ILoRALinear):
            yield name, module


def is_injected(model: nn.Module) -> bool:
    """Whether ``model`` contains at least one I-LoRA layer."""
    return next(ilora_layers(model), None) is not None
