"""I-LoRA: interaction-aware multi-head LoRA (Crab / Crab+) — K routed up-projection heads over one
shared down-projection, injected into any model by module-name patterns.

Quick use::

    from crabplus.lora import ILoRAConfig, inject, balance_loss, save_adapter
    inject(model, ILoRAConfig.crab_plus())
    with routing_inputs(task_ids=task_ids, modality_ids=modality_ids):
        loss = model(...).loss
    extra = balance_loss(model)          # None unless balance_loss_coef > 0
"""

from crabplus.lora._context import RoutingInputs, current_routing_inputs, routing_inputs
from crabplus.lora.adapter_io import adapter_state_dict, load_adapter, read_adapter_config, save_adapter
from crabplus.lora.config import LLM_TARGETS, ILoRAConfig
from crabplus.lora.crab_format import crab_state_dict, load_crab_state_dict
from crabplus.lora.gates import GATES, Gate, register_gate
from crabplus.lora.inject import ilora_layers, inject, is_injected, matches, plan_targets
from crabplus.lora.layer import DROPOUT_DRAWS, ILoRALinear, bits_dropout
from crabplus.lora.losses import balance_loss
from crabplus.lora.report import (
    heatmap_matrices,
    plot_routing_heatmaps,
    read_routing_stats,
    write_routing_stats,
)
from crabplus.lora.stats import MODALITY_NAMES, RoutingStats, layer_group

__all__ = [
    "GATES",
    "Gate",
    "ILoRAConfig",
    "ILoRALinear",
    "DROPOUT_DRAWS",
    "bits_dropout",
    "LLM_TARGETS",
    "MODALITY_NAMES",
    "RoutingInputs",
    "RoutingStats",
    "adapter_state_dict",
    "balance_loss",
    "crab_state_dict",
    "current_routing_inputs",
    "heatmap_matrices",
    "ilora_layers",
    "inject",
    "is_injected",
    "layer_group",
    "load_adapter",
    "load_crab_state_dict",
    "matches",
    "plan_targets",
    "plot_routing_heatmaps",
    "read_adapter_config",
    "read_routing_stats",
    "register_gate",
    "routing_inputs",
    "save_adapter",
    "write_routing_stats",
]
