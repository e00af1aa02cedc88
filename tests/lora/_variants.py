"""The routing variants the battery runs over, and the gate each one should produce, written out here.

Every test of the battery is parametrised over :func:`routing_names` (the registry), so a variant
registered in a ``test_variant_*.py`` module of this folder (``conftest.py`` imports those first) goes
through all of it. The expected gate of a built-in variant is computed below, independently of the
library code; a variant registered by a test supplies its own literal formula (``Gate.reference``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
import torch.nn as nn

from crabplus.lora import ILoRAConfig
from crabplus.lora.gates import names

HERE = Path(__file__).parent
BUILT_IN = ("task", "token", "topk")


def load_variant_modules() -> list[str]:
    """Import every ``test_variant_*.py`` of this folder (under the module name pytest gives it)."""
    modules = sorted(p.stem for p in HERE.glob("test_variant_*.py"))
    for name in modules:
        importlib.import_module(name)
    return modules


def routing_names() -> list[str]:
    """Every registered routing variant (built in and registered by tests)."""
    return names()


def variant_config(routing: str, heads: int = 3, **overrides) -> ILoRAConfig:
    """A config for ``routing`` with the knobs any variant may read (top_k, num_tasks) filled in."""
    values = dict(heads=heads, rank=4, routing=routing, top_k=min(2, heads), num_tasks=3)
    return ILoRAConfig(**{**values, **overrides})


def _softmax(t: torch.Tensor) -> torch.Tensor:
    e = (t - t.max(-1, keepdim=True).values).exp()
    return e / e.sum(-1, keepdim=True)


def topk_by_sort(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Softmax over the k largest logits (found by sorting), zeros elsewhere."""
    order = logits.argsort(dim=-1, descending=True)[..., :k]
    weights = _softmax(torch.gather(logits, -1, order))
    return torch.zeros_like(logits).scatter(-1, order, weights)


def sample_rows(task_ids: torch.Tensor, lead: torch.Size) -> torch.Tensor:
    """Task id of each token, (*lead,): rows of the input are samples or sample-major folds of them."""
    per_row = task_ids.repeat_interleave(lead[0] // task_ids.shape[0])  # (rows,)
    return per_row.view(-1, *([1] * (len(lead) - 1))).expand(lead)


def hand_gate(
    routing: str, tensors: dict[str, torch.Tensor], x: torch.Tensor, task_ids: torch.Tensor, top_k: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(gate, dense probabilities), (..., K), of a built-in variant from its tensors by module name
    (``lora_route`` W_r, ``lora_task_route`` T); None for a variant this file does not know."""
    x = x.float()
    if routing in ("token", "topk"):
        logits = x @ tensors["lora_route"].float().T  # (..., K)
        probs = _softmax(logits)
        return (probs if routing == "token" else topk_by_sort(logits, top_k)), probs
    if routing == "task":
        gate = _softmax(tensors["lora_task_route"].float())[sample_rows(task_ids, x.shape[:-1])]
        return gate, gate
    return None


def expected_gate(
    layer: nn.Module, x: torch.Tensor, task_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(gate, probs) (..., K) that ``layer`` should use on x; run inside ``routing_inputs(task_ids=...)``."""
    if layer.heads == 1:
        ones = torch.ones(*x.shape[:-1], 1)
        return ones, ones
    tensors = {name: module.weight.detach() for name, module in layer.gate_modules().items()}
    top_k = getattr(layer.gate_rule, "top_k", 1)
    by_hand = hand_gate(layer.routing, tensors, x.detach(), task_ids, top_k)
    if by_hand is not None:
        return by_hand
    gate, probs = layer.gate_rule.reference(layer, x.detach())
    return gate.float(), probs.float()
