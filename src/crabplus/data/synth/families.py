"""One sample generator per synthetic task family, each with exact targets computed from scene truth.

A generator maps ``(world, index)`` to a ``SynthSample`` (key-less: the writer names it) whose
``meta`` holds everything a prompt needs (question, options, class list, duration) plus the scene
coordinates ``world_seed`` / ``scene`` so any sample can be rebuilt, and whose ``target`` follows the
task contract (see the table in ``FAMILIES``). Media are real encoded files: mp4 (H.264 + AAC) for
clips, png for still frames, wav for the audio that goes with a still, and ``mask.png`` for masks
(the mask is *not* in the json target; the reader puts it back as a bool tensor).

| task | media | target |
|---|---|---|
| synth_cls | mp4 | ``{"label"}`` main sounding object |
| synth_match | mp4 (video of scene i, audio of i or of a scene without i's main class) | ``{"label": "yes"/"no"}`` |
| synth_loc | mp4 | ``{"label", "segments": [[s, e]], "duration"}`` |
| synth_avvp | mp4 | ``{"audio": [[label, s, e], ...], "visual": [...], "duration"}`` |
| synth_ground | png + wav | ``{"label", "box": [x1, y1, x2, y2]}`` normalised |
| synth_seg | png + wav + mask.png | ``{"label"}`` (+ mask) |
| synth_qa | mp4 | ``{"answer", "type"}``; meta ``{"question", "options", "type"}`` |
| synth_cap | mp4 | ``{"text"}`` |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crabplus.data.encode import encode_mask_png, encode_mp4, encode_png, encode_wav
from crabplus.data.synth.world import Scene, SceneObject, SynthWorld

__all__ = [
    "SynthSample",
    "FAMILIES",
    "REASONING_FAMILIES",
    "make_sample",
    "still_time",
    "match_partner",
    "match_reasoning",
    "caption",
    "QA_TYPES",
]

QA_TYPES = ("count", "order", "louder", "leftright", "exist")
_TAG_TASK = 100  # rng tags >= 100 are per-task choices (0 = layout, 1 = render noise)


@dataclass
class SynthSample:
    """One generated sample before it is written to a shard."""

    meta: dict
    target: dict
    media: dict[str, bytes]
    extra: dict = field(default_factory=dict)  # truth not stored in shards (tests may use it)
    reasoning: str | None = None  # the <think> part, written to shards when the task's config asks for it


def _base_meta(world: SynthWorld, scene: Scene) -> dict:
    return {"world_seed": world.config.seed, "scene": scene.index, "duration": scene.duration}


def _clip_mp4(world: SynthWorld, scene: Scene, audio_scene: Scene | None = None) -> bytes:
    clip = world.render(scene)
    audio = world.render(audio_scene).audio if audio_scene is not None else clip.audio
    return encode_mp4(clip.frames, world.config.fps, audio, world.config.sample_rate)


def still_time(world: SynthWorld, scene: Scene) -> float:
    """Time (s) of the still frame for grounding/segmentation: a frame where the main object sounds."""
    fps = world.config.fps
    s, e = scene.main.sounding[0]
    frames = [k for k in range(world.config.num_frames) if s <= k / fps < e]
    k = frames[int(world.rng(scene.index, _TAG_TASK + 5).integers(len(frames)))]
    return k / fps


def match_partner(world: SynthWorld, scene: Scene, classes=None) -> Scene:
    """A scene whose main (loudest) class is absent from ``scene``: its audio does not belong."""
    for attempt in range(1, 1000):
        other = world.scene(scene.index + 7_919 * attempt, classes)
        if other.main.label not in scene.labels:
            return other
    raise RuntimeError(f"no partner scene for scene {scene.index}: class pool too small")


def _cls(world: SynthWorld, scene: Scene) -> SynthSample:
    meta = {**_base_meta(world, scene), "classes": list(world.class_pool)}
    return SynthSample(meta, {"label": scene.main.label}, {"mp4": _clip_mp4(world, scene)})


def _match(world: SynthWorld, scene: Scene) -> SynthSample:
    same = bool(world.rng(scene.index, _TAG_TASK + 1).random() < 0.5)
    partner = None if same else match_partner(world, scene)
    meta = {**_base_meta(world, scene), "options": ["yes", "no"]}
    if partner is not None:
        meta["audio_scene"] = partner.index
    target = {"label": "yes" if same else "no"}
    reasoning = match_reasoning(scene, partner or scene)
    return SynthSample(meta, target, {"mp4": _clip_mp4(world, scene, partner)}, reasoning=reasoning)


def match_reasoning(scene: Scene, audio_scene: Scene) -> str:
    """What the answer of synth_match follows from: the on-screen classes, then the loudest sound's class.

    Why: "does the audio belong?" needs the audio's class compared with every visible class. Written out
    first, the comparison becomes one between tokens the model has just produced, which a small model
    learns from far fewer samples than the comparison of two encoders' features. The sound comes last so
    that the answer only asks whether its class token already occurred (a duplicate-token lookup), not
    whether a list that follows it contains it.
    """
    seen = ", ".join(_a(o.label) for o in scene.visible_objects())
    return f"On screen: {seen}. The loudest sound is {_a(audio_scene.main.label)}."


def _loc(world: SynthWorld, scene: Scene) -> SynthSample:
    meta = {**_base_meta(world, scene), "classes": list(world.class_pool)}
    segs = [[float(s), float(e)] for s, e in scene.main.sounding]
    target = {"label": scene.main.label, "segments": segs, "duration": scene.duration}
    return SynthSample(meta, target, {"mp4": _clip_mp4(world, scene)})


def _avvp(world: SynthWorld, scene: Scene) -> SynthSample:
    meta = {**_base_meta(world, scene), "classes": list(world.class_pool)}
    as_list = lambda evs: [[lab, float(s), float(e)] for lab, s, e in evs]  # noqa: E731
    target = {
        "audio": as_list(scene.audio_events()),
        "visual": as_list(scene.visual_events()),
        "duration": scene.duration,
    }
    return SynthSample(meta, target, {"mp4": _clip_mp4(world, scene)})


def _still(world: SynthWorld, scene: Scene) -> tuple[dict, dict[str, bytes], np.ndarray]:
    clip = world.render(scene)
    t = still_time(world, scene)
    meta = {**_base_meta(world, scene), "classes": list(world.class_pool), "time": t}
    media = {"png": encode_png(clip.frame_at(t)), "wav": encode_wav(clip.audio, world.config.sample_rate)}
    return meta, media, clip.masks[0]


def _ground(world: SynthWorld, scene: Scene) -> SynthSample:
    meta, media, _ = _still(world, scene)
    return SynthSample(meta, {"label": scene.main.label, "box": [float(c) for c in scene.main.box]}, media)


def _seg(world: SynthWorld, scene: Scene) -> SynthSample:
    meta, media, mask = _still(world, scene)
    media["mask.png"] = encode_mask_png(mask)
    return SynthSample(meta, {"label": scene.main.label}, media, extra={"mask": mask})


def _qa(world: SynthWorld, scene: Scene) -> SynthSample:
    rng = world.rng(scene.index, _TAG_TASK + 2)
    qtype, question, options, answer = _question(rng, world, scene)
    meta = {**_base_meta(world, scene), "question": question, "options": options, "type": qtype}
    return SynthSample(meta, {"answer": answer, "type": qtype}, {"mp4": _clip_mp4(world, scene)})


def _cap(world: SynthWorld, scene: Scene) -> SynthSample:
    return SynthSample(_base_meta(world, scene), {"text": caption(scene)}, {"mp4": _clip_mp4(world, scene)})


#: families whose samples carry a reasoning text (``tasks.<name>.reasoning: true`` writes it to shards)
REASONING_FAMILIES = frozenset({"synth_match"})

FAMILIES: dict[str, Callable[[SynthWorld, Scene], SynthSample]] = {
    "synth_cls": _cls,
    "synth_match": _match,
    "synth_loc": _loc,
    "synth_avvp": _avvp,
    "synth_ground": _ground,
    "synth_seg": _seg,
    "synth_qa": _qa,
    "synth_cap": _cap,
}


def make_sample(task: str, world: SynthWorld, index: int) -> SynthSample:
    """Sample ``index`` of synthetic ``task`` (deterministic in the world seed and index)."""
    if task not in FAMILIES:
        raise KeyError(f"unknown synthetic task {task!r}; valid: {', '.join(FAMILIES)}")
    return FAMILIES[task](world, world.scene(index))


# --- question answering -----------------------------------------------------------------------------
def _question(rng: np.random.Generator, world: SynthWorld, scene: Scene) -> tuple[str, str, list[str], str]:
    """(type, question, options, answer): a feasible type drawn uniformly, then its question."""
    feasible = [q for q in QA_TYPES if _QA[q][0](scene)]
    qtype = feasible[int(rng.integers(len(feasible)))]
    question, options, answer = _QA[qtype][1](rng, world, scene)
    return qtype, question, options, answer


def _a(label: str) -> str:
    """Indefinite article + label ("an engine", "a drum")."""
    return f"an {label}" if label[0] in "aeiou" else f"a {label}"


def _two(rng: np.random.Generator, a: SceneObject, b: SceneObject) -> tuple[SceneObject, SceneObject]:
    return (a, b) if rng.random() < 0.5 else (b, a)


def _order_pair(scene: Scene):
    sounding = scene.sounding_objects()
    for i, a in enumerate(sounding):
        for b in sounding[i + 1 :]:
            if a.sounding[0][0] != b.sounding[0][0]:
                return a, b
    return None


def _lr_pair(scene: Scene):
    vis = scene.visible_objects()
    for i, a in enumerate(vis):
        for b in vis[i + 1 :]:
            if a.box[2] <= b.box[0] or b.box[2] <= a.box[0]:
                return a, b
    return None


def _q_count(rng, world, scene):
    if rng.random() < 0.5:
        n, q = len(scene.sounding_objects()), "How many objects make a sound in this clip?"
    else:
        n, q = len(scene.visible_objects()), "How many objects can be seen in this clip?"
    return q, [str(i) for i in range(world.config.max_objects + 1)], str(n)


def _q_order(rng, world, scene):
    a, b = _two(rng, *_order_pair(scene))
    first = a if a.sounding[0][0] < b.sounding[0][0] else b
    return f"Which starts sounding first, the {a.label} or the {b.label}?", [a.label, b.label], first.label


def _q_louder(rng, world, scene):
    other = [o for o in scene.sounding_objects() if o.obj_id != 0][0]
    a, b = _two(rng, scene.main, other)
    louder = a if a.loudness > b.loudness else b
    return f"Which is louder, the {a.label} or the {b.label}?", [a.label, b.label], louder.label


def _q_leftright(rng, world, scene):
    a, b = _two(rng, *_lr_pair(scene))
    side = "left" if a.centre_x < b.centre_x else "right"
    return f"Is the {a.label} to the left or to the right of the {b.label}?", ["left", "right"], side


def _q_exist(rng, world, scene):
    heard = {o.label for o in scene.sounding_objects()}
    absent = [c for c in world.class_pool if c not in heard]
    if absent and rng.random() < 0.5:
        label, answer = absent[int(rng.integers(len(absent)))], "no"
    else:
        names = sorted(heard)
        label, answer = names[int(rng.integers(len(names)))], "yes"
    return f"Is there {_a(label)} making a sound?", ["yes", "no"], answer


_QA = {
    "count": (lambda s: True, _q_count),
    "order": (lambda s: _order_pair(s) is not None, _q_order),
    "louder": (lambda s: len(s.sounding_objects()) >= 2, _q_louder),
    "leftright": (lambda s: _lr_pair(s) is not None, _q_leftright),
    "exist": (lambda s: True, _q_exist),
}


# --- captions -----------------------------------------------------------------------------------------
def _where(obj: SceneObject) -> str:
    x = obj.centre_x
    return "on the left" if x < 1 / 3 else ("in the centre" if x < 2 / 3 else "on the right")


def _span(intervals) -> str:
    s, e = intervals[0]
    return f"from {s:g} to {e:g} seconds"


def caption(scene: Scene) -> str:
    """Deterministic caption of the scene's truth, one sentence per object (main object first)."""
    parts = []
    for obj in scene.objects:
        if not obj.on_screen:
            parts.append(f"{_a(obj.label).capitalize()} is heard off-screen {_span(obj.sounding)}.")
        elif not obj.sounding:
            parts.append(f"A silent {obj.label} is seen {_where(obj)} {_span(obj.visible)}.")
        else:
            parts.append(f"{_a(obj.label).capitalize()} {_where(obj)} is heard {_span(obj.sounding)}.")
    return " ".join(parts)
