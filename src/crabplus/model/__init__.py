"""crabplus.model: the AV-LLM (encoders, connectors, placeholder splicing, mask head) and its presets.

Entry points: ``build_avllm(preset, **overrides)`` and ``load_avllm(directory)``; see
docs/architecture.md ("Model") for the contract.
"""

from crabplus.model._adapted import build_adapted_avllm
from crabplus.model._arch import ARCHITECTURES, WeightsPathError, arch_config, check_weights_path
from crabplus.model._avllm import AVLLM, AVLLMOutput, causal_lm_loss
from crabplus.model._config import AVLLMConfig
from crabplus.model._connectors import MLPConnector, PoolConnector, QFormerConnector
from crabplus.model._feature_cache import FeatureCache
from crabplus.model._generate import GenerationResult
from crabplus.model._io import load_avllm
from crabplus.model._layers import LAYER_MODULES
from crabplus.model._length_groups import length_groups
from crabplus.model._mask_head import MaskHead, dice_loss, mask_loss
from crabplus.model._presets import (
    AUDIO_TOWERS,
    PRESETS,
    AudioTower,
    build_avllm,
    check_preset_paths,
    preset_names,
    register_preset,
)
from crabplus.model._splice import Spliced, splice
from crabplus.model._tokens import GRAMMAR_TOKENS, MASK_TOKEN, MODALITY_IDS, PLACEHOLDERS, add_av_tokens
from crabplus.model._trainable import TRAINABLE_MODES, set_trainable

__all__ = [
    "ARCHITECTURES",
    "AUDIO_TOWERS",
    "AVLLM",
    "AudioTower",
    "WeightsPathError",
    "arch_config",
    "check_preset_paths",
    "check_weights_path",
    "AVLLMConfig",
    "FeatureCache",
    "AVLLMOutput",
    "GRAMMAR_TOKENS",
    "LAYER_MODULES",
    "length_groups",
    "GenerationResult",
    "MASK_TOKEN",
    "MLPConnector",
    "MODALITY_IDS",
    "MaskHead",
    "PLACEHOLDERS",
    "PRESETS",
    "PoolConnector",
    "QFormerConnector",
    "Spliced",
    "TRAINABLE_MODES",
    "add_av_tokens",
    "build_adapted_avllm",
    "build_avllm",
    "causal_lm_loss",
    "dice_loss",
    "load_avllm",
    "mask_loss",
    "preset_names",
    "register_preset",
    "set_trainable",
    "splice",
]
