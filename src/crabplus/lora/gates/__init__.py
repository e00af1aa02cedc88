"""Routing variants of the I-LoRA layer: one file and one ``@register_gate`` class per variant.

``ILoRAConfig(routing=name)`` picks ``GATES[name]``. A new variant is a :class:`Gate` subclass with
``@register_gate("name")``; the layer, the adapter files, the Crab-format converter and the tests under
``tests/lora`` (parametrised over :func:`names`) take it without further edits.
"""

from crabplus.lora.gates import task, token, topk  # noqa: F401  (registration)
from crabplus.lora.gates._base import Gate
from crabplus.lora.gates._registry import GATES, get_gate, names, register_gate
from crabplus.lora.gates.task import TaskGate
from crabplus.lora.gates.token import TokenGate
from crabplus.lora.gates.topk import TopKGate

__all__ = ["GATES", "Gate", "TaskGate", "TokenGate", "TopKGate", "get_gate", "names", "register_gate"]
