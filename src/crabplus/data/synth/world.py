"""Scenes of the synthetic audio-visual world: who is where, visible when, sounding when, how loud.

A scene is pure truth (no pixels, no samples); ``render.py`` turns it into media. Everything is a
deterministic function of ``(config.seed, index)`` so any sample can be rebuilt on demand and exact
targets can be computed from the scene alone.

Layout rules that keep targets unambiguous:
- object 0 is the *main* object: on screen, visible for the whole clip, sounding in one interval, and
  strictly the loudest source (loudness in [0.7, 1.0] vs. at most 0.45 for the others);
- all objects of a scene have distinct classes;
- on-screen objects occupy distinct cells of a 3 x 2 grid (no overlap, so masks never occlude; distinct
  columns give an exact left/right relation);
- times lie on a grid of ``time_grid`` seconds (1 s by default: per-second AVVP labels are exact).
Intervals are half-open ``[s, e)`` in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crabplus.data.synth.classes import CLASS_NAMES

__all__ = ["WorldConfig", "SceneObject", "Scene", "SynthWorld", "merge_intervals"]

_GRID_COLS, _GRID_ROWS = 3, 2
_ROLES = ("sounding", "silent", "offscreen")


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the synthetic world.

    Attributes:
        num_classes: size of the class pool (first ``num_classes`` of ``CLASS_NAMES``).
        duration_s: clip length in seconds (a multiple of ``time_grid``).
        fps: frames per second of rendered video.
        frame_size: square frame side in pixels (even, for H.264 4:2:0).
        sample_rate: audio rate in Hz.
        max_objects: most objects in a scene (>= 1; the main object included).
        audio_noise: std of additive white noise (full scale = 1); audio difficulty.
        visual_noise: std of additive pixel noise as a fraction of 255; visual difficulty.
        seed: world seed; scenes are a function of ``(seed, index)``.
        time_grid: granularity of event times in seconds.
        role_probs: probabilities of a non-main object being (sounding & visible, silent & visible,
            audible off-screen).
        object_scale: range of an object's side as a fraction of its grid cell's shorter side.
        object_jitter: place each object at a random offset inside its cell (False: centred). With
            ``object_scale`` fixed and no jitter an object's box is a function of its cell alone (6 boxes),
            which is what a tiny CPU model can learn to write as text in the demo's budget.
    """

    num_classes: int = 8
    duration_s: float = 4.0
    fps: int = 4
    frame_size: int = 64
    sample_rate: int = 16000
    max_objects: int = 3
    audio_noise: float = 0.05
    visual_noise: float = 0.05
    seed: int = 0
    time_grid: float = 1.0
    role_probs: tuple[float, float, float] = (0.4, 0.3, 0.3)
    object_scale: tuple[float, float] = (0.55, 0.9)
    object_jitter: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.object_scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(
                f"WorldConfig.object_scale must satisfy 0 < low <= high <= 1, got {self.object_scale}"
            )
        if not 1 <= self.num_classes <= len(CLASS_NAMES):
            raise ValueError(
                f"WorldConfig.num_classes must be in 1..{len(CLASS_NAMES)}, got {self.num_classes}"
            )
        if self.frame_size % 2 or self.frame_size < 16:
            raise ValueError(f"WorldConfig.frame_size must be even and >= 16, got {self.frame_size}")
        cells = self.duration_s / self.time_grid
        if abs(cells - round(cells)) > 1e-9 or round(cells) < 1:
            raise ValueError(
                f"WorldConfig.duration_s ({self.duration_s}) must be a positive multiple of time_grid ({self.time_grid})"
            )
        if not 1 <= self.max_objects <= _GRID_COLS * _GRID_ROWS:
            raise ValueError(f"WorldConfig.max_objects must be in 1..{_GRID_COLS * _GRID_ROWS}")

    @property
    def num_frames(self) -> int:
        return int(round(self.duration_s * self.fps))

    @property
    def num_samples(self) -> int:
        return int(round(self.duration_s * self.sample_rate))


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene.

    Attributes:
        obj_id: index within the scene (0 = main object).
        label: class name.
        box: normalised ``(x1, y1, x2, y2)`` on the pixel grid of the frame, or ``None`` off screen.
        visible: half-open intervals ``[(s, e), ...]`` in seconds when it is drawn.
        sounding: intervals when it makes its class's sound.
        loudness: RMS gain of its sound (relative; the main object is the loudest).
    """

    obj_id: int
    label: str
    box: tuple[float, float, float, float] | None
    visible: tuple[tuple[float, float], ...]
    sounding: tuple[tuple[float, float], ...]
    loudness: float

    @property
    def on_screen(self) -> bool:
        return self.box is not None and bool(self.visible)

    @property
    def centre_x(self) -> float:
        if self.box is None:
            raise ValueError(f"object {self.obj_id} ({self.label}) is off screen")
        return (self.box[0] + self.box[2]) / 2

    def visible_at(self, t: float) -> bool:
        return any(s <= t < e for s, e in self.visible)

    def sounding_at(self, t: float) -> bool:
        return any(s <= t < e for s, e in self.sounding)


@dataclass(frozen=True)
class Scene:
    """Truth of one scene: its objects and the world settings it was drawn with."""

    index: int
    config: WorldConfig
    objects: tuple[SceneObject, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        return self.config.duration_s

    @property
    def main(self) -> SceneObject:
        return self.objects[0]

    @property
    def labels(self) -> list[str]:
        return [o.label for o in self.objects]

    def sounding_objects(self) -> list[SceneObject]:
        return [o for o in self.objects if o.sounding]

    def visible_objects(self) -> list[SceneObject]:
        return [o for o in self.objects if o.on_screen]

    def audio_events(self) -> list[list]:
        """``[[label, s, e], ...]`` of every sound, sorted by onset then label."""
        return _events(self.objects, "sounding")

    def visual_events(self) -> list[list]:
        """``[[label, s, e], ...]`` of every on-screen appearance, sorted by onset then label."""
        return _events([o for o in self.objects if o.on_screen], "visible")


def _events(objects, attr: str) -> list[list]:
    out = [[o.label, s, e] for o in objects for s, e in merge_intervals(getattr(o, attr))]
    return sorted(out, key=lambda ev: (ev[1], ev[0], ev[2]))


def merge_intervals(intervals) -> list[tuple[float, float]]:
    """Union of half-open intervals as a sorted list of disjoint intervals (touching ones merged)."""
    out: list[list[float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


class SynthWorld:
    """Deterministic scene generator; ``render`` turns a scene into frames, audio and masks."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self.class_pool: tuple[str, ...] = CLASS_NAMES[: self.config.num_classes]

    def rng(self, index: int, tag: int = 0) -> np.random.Generator:
        """Generator for scene ``index``; ``tag`` separates independent uses (layout, noise, tasks)."""
        return np.random.default_rng([self.config.seed, int(index), int(tag)])

    def scene(self, index: int, classes: list[str] | tuple[str, ...] | None = None) -> Scene:
        """Scene ``index``: deterministic in ``(seed, index, classes)``.

        Args:
            index: scene number (any non-negative int).
            classes: restrict the class pool (names); ``None`` = the world's pool.
        """
        pool = list(classes) if classes is not None else list(self.class_pool)
        for name in pool:
            if name not in CLASS_NAMES:
                raise KeyError(f"unknown synthetic class {name!r}; valid: {', '.join(CLASS_NAMES)}")
        cfg = self.config
        rng = self.rng(index, 0)
        n = int(rng.integers(1, min(cfg.max_objects, len(pool)) + 1))
        labels = [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
        cells = [int(c) for c in rng.permutation(_GRID_COLS * _GRID_ROWS)]
        n_cells = int(round(cfg.duration_s / cfg.time_grid))
        objects = [self._main_object(rng, labels[0], cells.pop(), n_cells)]
        for obj_id, label in enumerate(labels[1:], start=1):
            role = _ROLES[int(rng.choice(3, p=np.asarray(cfg.role_probs) / sum(cfg.role_probs)))]
            objects.append(self._other_object(rng, obj_id, label, role, cells.pop(), n_cells))
        return Scene(index=int(index), config=cfg, objects=tuple(objects))

    def render(self, scene: Scene):
        """Frames, audio and masks of ``scene`` (see ``render.Clip``)."""
        from crabplus.data.synth.render import render_scene

        return render_scene(scene, self.rng(scene.index, 1))

    # --- sampling helpers -------------------------------------------------------------------------
    def _interval(self, rng: np.random.Generator, n_cells: int) -> tuple[float, float]:
        a, b = sorted(int(x) for x in rng.choice(n_cells + 1, size=2, replace=False))
        g = self.config.time_grid
        return (a * g, b * g)

    def _box(self, rng: np.random.Generator, cell: int) -> tuple[float, float, float, float]:
        s = self.config.frame_size
        col, row = cell % _GRID_COLS, cell // _GRID_COLS
        cx0, cx1 = (col * s) // _GRID_COLS, ((col + 1) * s) // _GRID_COLS
        cy0, cy1 = (row * s) // _GRID_ROWS, ((row + 1) * s) // _GRID_ROWS
        side = max(4, int(round(rng.uniform(*self.config.object_scale) * min(cx1 - cx0, cy1 - cy0))))
        # the offsets are drawn even when unused, so that later draws do not depend on object_jitter
        x0 = cx0 + int(rng.integers(0, cx1 - cx0 - side + 1))
        y0 = cy0 + int(rng.integers(0, cy1 - cy0 - side + 1))
        if not self.config.object_jitter:
            x0, y0 = cx0 + (cx1 - cx0 - side) // 2, cy0 + (cy1 - cy0 - side) // 2
        return (x0 / s, y0 / s, (x0 + side) / s, (y0 + side) / s)

    def _main_object(self, rng, label: str, cell: int, n_cells: int) -> SceneObject:
        return SceneObject(
            obj_id=0,
            label=label,
            box=self._box(rng, cell),
            visible=((0.0, self.config.duration_s),),
            sounding=(self._interval(rng, n_cells),),
            loudness=float(rng.uniform(0.7, 1.0)),
        )

    def _other_object(self, rng, obj_id: int, label: str, role: str, cell: int, n_cells: int) -> SceneObject:
        box = self._box(rng, cell) if role != "offscreen" else None
        visible = (self._interval(rng, n_cells),) if role != "offscreen" else ()
        sounding = (self._interval(rng, n_cells),) if role != "silent" else ()
        loudness = float(rng.uniform(0.2, 0.45)) if sounding else 0.0
        return SceneObject(obj_id, label, box, visible, sounding, loudness)
