"""``crabplus plan``: parameter counts, tokens per sample and per-device memory of a config, on meta.

Layout: ``activations`` (saved-tensor bytes of one layer on the meta device), ``stacks`` (which layers,
how to call them), ``params`` (counts per group), ``tokens`` (tokens per task), ``memory`` (the estimate),
``cli`` (config -> report).
"""

from crabplus.train.plan.cli import DEVICE_MEMORY_GIB, load_config, main, plan, render
from crabplus.train.plan.memory import GIB, MemoryEstimate, StackLoad, StrategySpec, estimate_memory
from crabplus.train.plan.params import GROUPS, count_groups

__all__ = [
    "DEVICE_MEMORY_GIB", "GIB", "GROUPS", "MemoryEstimate", "StackLoad", "StrategySpec", "count_groups",
    "estimate_memory", "load_config", "main", "plan", "render",
]  # fmt: skip
