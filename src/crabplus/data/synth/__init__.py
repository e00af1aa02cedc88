"""Synthetic audio-visual world with exact ground truth for every task family (offline, seeded).

``WorldConfig`` -> ``SynthWorld.scene(index)`` (truth) -> ``SynthWorld.render(scene)`` (media) ->
``families`` (one sample generator per task) -> shards (``generate.write_synth``).
"""

from crabplus.data.synth.classes import CLASS_NAMES, CLASSES, ClassSpec, class_spec
from crabplus.data.synth.render import Clip, shape_mask
from crabplus.data.synth.world import Scene, SceneObject, SynthWorld, WorldConfig, merge_intervals

__all__ = [
    "CLASS_NAMES",
    "CLASSES",
    "ClassSpec",
    "class_spec",
    "Clip",
    "shape_mask",
    "Scene",
    "SceneObject",
    "SynthWorld",
    "WorldConfig",
    "merge_intervals",
]
