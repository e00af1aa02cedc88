"""``Gate``: the small interface every routing variant implements.

Notation: x (N, d_in) tokens of one adapted linear, K heads, ``lead`` the input's leading shape
(N = prod(lead)). A gate maps each token to head weights g (N, K), float32 (Crab computes its softmax
in fp32), each row summing to 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn as nn

from crabplus.lora._context import current_routing_inputs
from crabplus.lora._gate_math import rows_to_tokens

if TYPE_CHECKING:
    from crabplus.lora.config import ILoRAConfig

__all__ = ["Gate"]


class Gate:
    """One routing variant of the I-LoRA layer (used only when K > 1; K = 1 is plain LoRA).

    A subclass states, in one place:

    - ``modules``: attribute names of the modules it adds to each layer. They start with ``lora_`` (so
      they are trained and saved with the adapter) and each holds one ``weight``; the keys
      ``<layer path>.<name>.weight`` are the same in checkpoints, adapter files and the Crab layout.
    - :meth:`check`: its configuration errors; :meth:`build` / :meth:`reset`: its parameters and init;
    - :meth:`router`: W_r (K, d_in) when the gate reads token logits x W_rᵀ (the layer fuses that GEMM
      into A's);
    - :meth:`gate`: the fast computation; :meth:`reference`: the literal formula it implements;
    - ``plain_softmax``: True when the gate is exactly ``softmax(x W_rᵀ)`` in float32, with nothing else
      (the layer then runs its adapter as one autograd node, ``crabplus.lora.fused``).

    Register it with ``@register_gate("name")``; ``ILoRAConfig(routing="name")`` then selects it.
    """

    name: ClassVar[str] = ""  # set by register_gate
    modules: ClassVar[tuple[str, ...]] = ()
    plain_softmax: ClassVar[bool] = False

    def __init__(self, config: ILoRAConfig) -> None:
        self.heads = config.heads

    @classmethod
    def check(cls, config: ILoRAConfig) -> tuple[str, str] | None:
        """(config key, why) when ``config`` is invalid for this variant, else None."""
        return None

    def build(self, d_in: int, factory: dict) -> dict[str, nn.Module]:
        """Freshly allocated modules, one per name in ``modules`` (``factory``: device and dtype)."""
        return {}

    def reset(self, layer: nn.Module) -> None:
        """Initialise the variant's modules on ``layer`` (called after A and B are initialised)."""

    def router(self, layer: nn.Module) -> torch.Tensor | None:
        """W_r (K, d_in) whose logits x W_rᵀ the layer computes for :meth:`gate`, or None."""
        return None

    def gate(
        self, layer: nn.Module, logits: torch.Tensor | None, lead: torch.Size
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fast path: (gate, probs), both (N, K) float32. ``logits`` (N, K) = x W_rᵀ when
        :meth:`router` gives W_r. ``probs`` are the dense router probabilities whose per-head mean is
        the load of the balance loss."""
        raise NotImplementedError

    def reference(self, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The literal formula on x (..., d_in): (gate, probs), both (..., K) float32."""
        raise NotImplementedError

    # ----- helpers for variants -------------------------------------------------------------------------
    def token_task_ids(self, lead: torch.Size, device: torch.device) -> torch.Tensor:
        """Task id of every token (N,) from :func:`crabplus.lora.routing_inputs`; raises if absent."""
        ctx = current_routing_inputs()
        if ctx is None or ctx.task_ids is None:
            raise RuntimeError(
                f"ILoRAConfig.routing={self.name!r} needs task ids: run the forward inside "
                "crabplus.lora.routing_inputs(task_ids=...)"
            )
        return rows_to_tokens(ctx.task_ids.to(device), lead)
