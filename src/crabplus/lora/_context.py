"""Per-forward side information for adapter layers (task ids, token modalities).

Why a context variable: adapted ``nn.Linear`` layers sit deep inside a Hugging Face model whose
``forward`` signature we do not control. The AV-LLM publishes the per-token task and modality ids
for the duration of one LM forward; task-routed heads and routing statistics read them here.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = ["RoutingInputs", "current_routing_inputs", "routing_inputs"]


@dataclass(frozen=True)
class RoutingInputs:
    """Side information for one forward pass.

    Attributes:
        task_ids: (B,) long, index of each sample's task, or None.
        modality_ids: (B, L) long, 0 text, 1 video, 2 audio, 3 image per token, or None.
    """

    task_ids: torch.Tensor | None = None
    modality_ids: torch.Tensor | None = None


_CURRENT: contextvars.ContextVar[RoutingInputs | None] = contextvars.ContextVar(
    "crabplus_routing", default=None
)


@contextlib.contextmanager
def routing_inputs(
    task_ids: torch.Tensor | None = None, modality_ids: torch.Tensor | None = None
) -> Iterator[RoutingInputs]:
    """Publish ``task_ids``/``modality_ids`` to adapter layers inside the ``with`` block.

    Nesting composes: a field left None inherits the enclosing block's value, so a trainer can
    publish task ids around a model whose forward publishes its own modality ids.
    """
    outer = _CURRENT.get()
    if outer is not None:
        task_ids = outer.task_ids if task_ids is None else task_ids
        modality_ids = outer.modality_ids if modality_ids is None else modality_ids
    value = RoutingInputs(task_ids=task_ids, modality_ids=modality_ids)
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


def current_routing_inputs() -> RoutingInputs | None:
    """The side information of the forward pass in progress, or None outside one."""
    return _CURRENT.get()
