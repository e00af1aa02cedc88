"""``crabplus plan``: parameter counts, tokens per sample and per-device memory of a config, on meta.

Layout: ``activations`` (saved-tensor bytes of one layer on the meta device), ``stacks`` (which layers,
how to call them), ``params`` (counts per group), ``tokens`` (tokens per task), ``memory`` (the estimate),
``cli`` (config -> report; ``from crabplus.plan.cli import plan``). Beside ``train`` in the layer order:
it reads model, lora and tasks only, so a benchmark can use the estimate without the training stack.
"""

from crabplus.plan.memory import GIB, MemoryEstimate, StackLoad, StrategySpec, estimate_memory
from crabplus.plan.params import GROUPS, count_groups

__all__ = ["GIB", "GROUPS", "MemoryEstimate", "StackLoad", "StrategySpec", "count_groups", "estimate_memory"]
