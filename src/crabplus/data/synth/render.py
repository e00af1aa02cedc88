"""Rendering a scene to pixels and samples: shapes on a dark background, class tones in the audio.

Notation: T frames, S pixels per side, N audio samples. Frame ``k`` shows time ``k / fps``.
Each source's sound is RMS-normalised before its loudness gain, so "louder" in the truth is louder in
the signal whatever the timbre. Positions are static, so one mask per object serves every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crabplus.data.synth.classes import ClassSpec, class_spec
from crabplus.data.synth.world import Scene, SceneObject

__all__ = ["Clip", "render_scene", "shape_mask", "source_wave", "BACKGROUND", "RMS_SCALE"]

BACKGROUND = (30, 30, 30)
RMS_SCALE = 0.15  # RMS of a source with loudness 1.0 (keeps the sum of three sources inside [-1, 1])
_FADE_S = 0.01
# RMS of each unit-amplitude waveform, and of the AM envelope 0.5 * (1 + cos): sqrt(3/8).
_WAVE_RMS = {"sine": 2**-0.5, "square": 1.0, "saw": 3**-0.5, "triangle": 3**-0.5}
_AM_RMS = (3 / 8) ** 0.5


@dataclass
class Clip:
    """Rendered media of one scene.

    Attributes:
        frames: ``(T, S, S, 3)`` uint8.
        audio: ``(N,)`` float32 in [-1, 1].
        masks: ``{obj_id: (S, S) bool}`` for on-screen objects (static positions: valid on every frame
            where the object is visible).
        fps, sample_rate: rates of ``frames`` and ``audio``.
    """

    frames: np.ndarray
    audio: np.ndarray
    masks: dict[int, np.ndarray]
    fps: int
    sample_rate: int

    def frame_at(self, t: float) -> np.ndarray:
        """The frame shown at time ``t`` seconds, ``(S, S, 3)``."""
        k = min(int(np.floor(t * self.fps + 1e-9)), len(self.frames) - 1)
        return self.frames[k]


def shape_mask(shape: str, side_px: int) -> np.ndarray:
    """``(side, side)`` bool raster of a class shape filling its box (every shape touches all 4 sides)."""
    c = (np.arange(side_px) + 0.5) / side_px * 2 - 1  # pixel centres in (-1, 1)
    v, u = np.meshgrid(c, c, indexing="ij")  # v: down, u: right
    r2 = u**2 + v**2
    au, av_ = np.abs(u), np.abs(v)
    table = {
        "circle": r2 <= 1.0,
        "square": np.ones_like(u, dtype=bool),
        "triangle": au <= (v + 1) / 2 + 1.0 / side_px,
        "diamond": au + av_ <= 1.0,
        "cross": (au <= 0.3) | (av_ <= 0.3),
        "ring": (r2 <= 1.0) & (r2 >= 0.3),
        "hourglass": au <= av_ + 1.0 / side_px,
        "bowtie": av_ <= au + 1.0 / side_px,
        "star": (au + av_ <= 0.7) | (au <= 0.15) | (av_ <= 0.15),
        "xshape": (np.abs(u - v) <= 0.4) | (np.abs(u + v) <= 0.4),
        "halfdisc": u**2 + ((v + 1) / 2) ** 2 <= 1.0,
        "frame": np.maximum(au, av_) >= 0.55,
    }
    if shape not in table:
        raise KeyError(f"unknown shape {shape!r}; valid: {', '.join(table)}")
    return table[shape]


def _object_mask(obj: SceneObject, size: int) -> np.ndarray:
    """``(S, S)`` bool mask of an on-screen object at its box."""
    x0, y0, x1, y1 = (int(round(c * size)) for c in obj.box)
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = shape_mask(class_spec(obj.label).shape, x1 - x0)
    return mask


def source_wave(spec: ClassSpec, t: np.ndarray) -> np.ndarray:
    """Unit-RMS sound of a class at times ``t`` (seconds), ``(N,)``."""
    phase = (spec.freq_hz * t) % 1.0
    if spec.wave == "sine":
        x = np.sin(2 * np.pi * phase)
    elif spec.wave == "square":
        x = np.where(phase < 0.5, 1.0, -1.0)
    elif spec.wave == "saw":
        x = 2 * phase - 1
    else:  # triangle
        x = 2 * np.abs(2 * phase - 1) - 1
    x = x / _WAVE_RMS[spec.wave]
    if spec.am_hz > 0:
        x = x * 0.5 * (1 + np.cos(2 * np.pi * spec.am_hz * t)) / _AM_RMS
    return x


def _render_audio(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    cfg = scene.config
    sr, n = cfg.sample_rate, cfg.num_samples
    t = np.arange(n) / sr
    audio = np.zeros(n, dtype=np.float64)
    fade = max(1, int(_FADE_S * sr))
    for obj in scene.objects:
        wave = source_wave(class_spec(obj.label), t)
        for s, e in obj.sounding:
            i0, i1 = int(round(s * sr)), int(round(e * sr))
            env = np.ones(i1 - i0)
            ramp = np.linspace(0.0, 1.0, min(fade, (i1 - i0) // 2) + 1)[1:]
            env[: len(ramp)] *= ramp
            env[len(env) - len(ramp) :] *= ramp[::-1]
            audio[i0:i1] += RMS_SCALE * obj.loudness * env * wave[i0:i1]
    audio += rng.normal(0.0, cfg.audio_noise, size=n)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _render_frames(scene: Scene, masks: dict[int, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    cfg = scene.config
    size = cfg.frame_size
    frames = np.empty((cfg.num_frames, size, size, 3), dtype=np.float32)  # (T, S, S, 3)
    for k in range(cfg.num_frames):
        img = np.empty((size, size, 3), dtype=np.float32)
        img[:] = BACKGROUND
        for obj in scene.objects:
            if obj.obj_id in masks and obj.visible_at(k / cfg.fps):
                img[masks[obj.obj_id]] = class_spec(obj.label).colour
        frames[k] = img
    frames += rng.normal(0.0, cfg.visual_noise * 255.0, size=frames.shape)
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def render_scene(scene: Scene, rng: np.random.Generator) -> Clip:
    """Render ``scene``; ``rng`` drives only the noise (layout is in the scene)."""
    size = scene.config.frame_size
    masks = {o.obj_id: _object_mask(o, size) for o in scene.objects if o.on_screen}
    frames = _render_frames(scene, masks, rng)
    audio = _render_audio(scene, rng)
    return Clip(
        frames=frames, audio=audio, masks=masks, fps=scene.config.fps, sample_rate=scene.config.sample_rate
    )
