"""The routing-variant registry: files ⇄ names, duplicates, unknown names, variant config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch.nn as nn

import crabplus.lora.gates as gates
from crabplus.lora import Gate, ILoRAConfig, inject, register_gate

pytestmark = pytest.mark.unit


def test_built_in_variants_match_the_files() -> None:
    folder = Path(gates.__file__).parent
    files = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    built_in = sorted(n for n in gates.names() if gates.GATES[n].__module__.startswith("crabplus."))
    assert files == built_in == ["task", "token", "topk"]
    assert all(gates.GATES[n].__module__ == f"crabplus.lora.gates.{n}" for n in files)


def test_duplicate_registration_is_rejected_and_changes_nothing() -> None:
    before = dict(gates.GATES)
    with pytest.raises(ValueError, match="'token' is already registered"):

        @register_gate("token")
        class Again(Gate):
            pass

    assert gates.GATES == before


def test_module_names_must_be_adapter_names() -> None:
    with pytest.raises(ValueError, match=r"\['router'\] must start with 'lora_'"):

        @register_gate("badnames")
        class BadNames(Gate):
            modules = ("router",)

    assert "badnames" not in gates.GATES


def test_unknown_routing_lists_the_valid_names() -> None:
    with pytest.raises(KeyError, match="unknown routing 'gumbel'; valid routings: task, .*token, topk"):
        gates.get_gate("gumbel")
    with pytest.raises(ValueError, match="ILoRAConfig.routing: expected one of"):
        ILoRAConfig(routing="gumbel")


def test_variant_config_checks_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"ILoRAConfig.top_k: must be in \[1, heads=3\], got 4"):
        ILoRAConfig(routing="topk", top_k=4)
    with pytest.raises(ValueError, match="ILoRAConfig.num_tasks: must be >= 1"):
        ILoRAConfig(routing="task", num_tasks=0)
    ILoRAConfig(routing="token", top_k=9)  # knobs of other variants are not checked


def test_build_must_give_the_declared_modules() -> None:
    class Liar(Gate):
        modules = ("lora_route",)

        def build(self, d_in, factory):
            return {"lora_other": nn.Linear(d_in, self.heads, bias=False)}

    register_gate("liar")(Liar)
    try:
        with pytest.raises(ValueError, match=r"routing 'liar': build\(\) gave \['lora_other'\]"):
            inject(nn.ModuleDict({"p": nn.Linear(4, 4)}), ILoRAConfig(routing="liar", target_modules=["p"]))
    finally:
        del gates.GATES["liar"]
