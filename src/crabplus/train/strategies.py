"""FSDP wrapping policies that YAML configs can name: the transformer layers of every supported preset.

FSDP shards a model in *units*; each unit's parameters are all-gathered for its forward and freed after.
One unit per transformer layer (LM decoder layers, vision and audio encoder layers) keeps the gathered
memory at one layer, which is what makes a 7B LM plus two encoders fit on 8 GPUs. The root unit keeps
the rest (embeddings, connectors, mask head, LM head).

Units mix frozen base weights and trainable I-LoRA weights, so the strategy must run with
``use_orig_params=True`` (FSDP otherwise flattens a unit into one parameter with one ``requires_grad``).

Layers are named by class name, not imported in the config, so one policy serves every preset and a
config parses without importing transformers' model files. Known names resolve through
:data:`LAYER_MODULES`; any other class can be given as a dotted path ``package.module.ClassName``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence

from torch import nn
from torch.distributed.fsdp.wrap import ModuleWrapPolicy

from crabplus.model import LAYER_MODULES

__all__ = ["DEFAULT_LAYERS", "LAYER_MODULES", "LayerWrapPolicy", "resolve_layer_classes"]

#: every known layer: a model that lacks some of them simply has no units of those classes.
DEFAULT_LAYERS: tuple[str, ...] = tuple(LAYER_MODULES)


def resolve_layer_classes(names: Iterable[str]) -> set[type[nn.Module]]:
    """Classes for ``names`` (keys of :data:`LAYER_MODULES` or dotted ``module.Class`` paths).

    Raises:
        ValueError: a name that is neither known nor a dotted path, listing the known names.
        ImportError / AttributeError: a dotted path that does not resolve (from importlib, naming it).
    """
    classes: set[type[nn.Module]] = set()
    for name in names:
        if name in LAYER_MODULES:
            module, attr = LAYER_MODULES[name], name
        elif "." in name:
            module, attr = name.rsplit(".", 1)
        else:
            raise ValueError(
                f"FSDP layer_names: unknown layer class {name!r}; known: {', '.join(LAYER_MODULES)} "
                "(or give a dotted path package.module.ClassName)"
            )
        cls = getattr(importlib.import_module(module), attr)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ValueError(f"FSDP layer_names: {name!r} is not an nn.Module class")
        classes.add(cls)
    return classes


class LayerWrapPolicy(ModuleWrapPolicy):
    """``ModuleWrapPolicy`` over layer classes given by name (one FSDP unit per transformer layer).

    Use it as ``trainer.strategy.init_args.auto_wrap_policy`` (and, for activation checkpointing, as
    ``activation_checkpointing_policy``) of ``lightning.pytorch.strategies.FSDPStrategy``.

    Args:
        layer_names: class names (keys of :data:`LAYER_MODULES`) or dotted class paths; default: all
            known layers of the supported presets (a model without some of them has no such units).
    """

    def __init__(self, layer_names: Sequence[str] = DEFAULT_LAYERS) -> None:
        self.layer_names = list(layer_names)
        super().__init__(resolve_layer_classes(self.layer_names))

    @property
    def layer_classes(self) -> set[type[nn.Module]]:
        """The resolved classes (what FSDP wraps)."""
        return set(self._module_classes)

    def __repr__(self) -> str:
        return f"LayerWrapPolicy(layer_names={self.layer_names})"
