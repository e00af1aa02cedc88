"""Object classes of the synthetic audio-visual world: one look and one sound per class.

Every class is identifiable from either modality alone: a distinct shape *and* colour in the frames, a
distinct fundamental frequency, waveform (timbre) and amplitude-modulation rate in the audio. That lets
the synthetic tasks probe audio-only, visual-only and joint cues with exact ground truth.

Decision: a fixed, hand-written table (not random) so that names in prompts, targets and captions are
stable across seeds and releases (a class's name is part of the data version).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLASS_NAMES", "ClassSpec", "CLASSES", "class_spec"]


@dataclass(frozen=True)
class ClassSpec:
    """Appearance and sound of one class.

    Attributes:
        name: label used in targets and prompts.
        shape: one of ``circle, square, triangle, diamond, cross, ring, hourglass, bowtie, star, xshape,
            halfdisc, frame``.
        colour: RGB in 0..255.
        freq_hz: fundamental frequency of the class's sound.
        wave: oscillator type, one of ``sine, square, saw, triangle``.
        am_hz: amplitude-modulation rate (0 = steady tone); gives each class a rhythm.
    """

    name: str
    shape: str
    colour: tuple[int, int, int]
    freq_hz: float
    wave: str
    am_hz: float


CLASSES: tuple[ClassSpec, ...] = (
    ClassSpec("bell", "circle", (230, 60, 50), 880.0, "sine", 0.0),
    ClassSpec("drum", "square", (50, 110, 230), 110.0, "square", 4.0),
    ClassSpec("flute", "triangle", (60, 200, 80), 660.0, "triangle", 0.0),
    ClassSpec("horn", "diamond", (240, 200, 40), 220.0, "saw", 0.0),
    ClassSpec("buzzer", "cross", (200, 60, 220), 330.0, "square", 0.0),
    ClassSpec("whistle", "ring", (40, 210, 210), 1320.0, "sine", 6.0),
    ClassSpec("violin", "hourglass", (240, 130, 40), 440.0, "saw", 5.0),
    ClassSpec("engine", "bowtie", (150, 150, 150), 80.0, "saw", 2.0),
    ClassSpec("bird", "star", (250, 250, 250), 1760.0, "triangle", 8.0),
    ClassSpec("siren", "xshape", (250, 110, 160), 550.0, "triangle", 1.0),
    ClassSpec("clock", "halfdisc", (140, 90, 40), 1000.0, "square", 2.0),
    ClassSpec("organ", "frame", (120, 200, 120), 165.0, "sine", 3.0),
)

CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)


def class_spec(name_or_index: str | int) -> ClassSpec:
    """Look a class up by name or index; errors list the valid names."""
    if isinstance(name_or_index, int):
        return CLASSES[name_or_index]
    for spec in CLASSES:
        if spec.name == name_or_index:
            return spec
    raise KeyError(f"unknown synthetic class {name_or_index!r}; valid: {', '.join(CLASS_NAMES)}")
