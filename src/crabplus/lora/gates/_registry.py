"""The routing-variant registry: ``ILoRAConfig.routing`` name -> :class:`Gate` subclass."""

from __future__ import annotations

from collections.abc import Callable

from crabplus.lora.gates._base import Gate

__all__ = ["GATES", "register_gate", "get_gate", "names"]

GATES: dict[str, type[Gate]] = {}


def register_gate(name: str) -> Callable[[type[Gate]], type[Gate]]:
    """Class decorator: register a :class:`Gate` subclass as ``ILoRAConfig(routing=name)``."""

    def add(cls: type[Gate]) -> type[Gate]:
        if name in GATES:
            raise ValueError(f"routing {name!r} is already registered ({GATES[name].__qualname__})")
        if not (isinstance(cls, type) and issubclass(cls, Gate)):
            raise TypeError(f"register_gate({name!r}): {cls!r} is not a crabplus.lora.gates.Gate subclass")
        bad = [m for m in cls.modules if not m.startswith("lora_")]
        if bad:
            raise ValueError(f"register_gate({name!r}): module names {bad} must start with 'lora_'")
        cls.name = name
        GATES[name] = cls
        return cls

    return add


def names() -> list[str]:
    """Registered routing names, sorted."""
    return sorted(GATES)


def get_gate(name: str) -> type[Gate]:
    """The :class:`Gate` subclass registered as ``name``; the error lists the valid names."""
    try:
        return GATES[name]
    except KeyError:
        raise KeyError(f"unknown routing {name!r}; valid routings: {', '.join(names())}") from None
