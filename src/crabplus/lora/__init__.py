"""I-LoRA: interaction-aware multi-head LoRA (Crab / Crab+)."""

from crabplus.lora._context import RoutingInputs, current_routing_inputs, routing_inputs

__all__ = ["RoutingInputs", "current_routing_inputs", "routing_inputs"]
