"""The synthetic world: determinism, scene invariants, and rendered media checked against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from crabplus.data.synth import CLASS_NAMES, SynthWorld, WorldConfig, class_spec, merge_intervals, shape_mask
from crabplus.data.synth.render import BACKGROUND

pytestmark = pytest.mark.unit

CLEAN = WorldConfig(audio_noise=0.0, visual_noise=0.0, seed=3)


def test_scenes_are_deterministic_and_seeded():
    a, b = SynthWorld(WorldConfig(seed=1)), SynthWorld(WorldConfig(seed=1))
    assert a.scene(17) == b.scene(17)
    np.testing.assert_array_equal(a.render(a.scene(17)).frames, b.render(b.scene(17)).frames)
    np.testing.assert_array_equal(a.render(a.scene(17)).audio, b.render(b.scene(17)).audio)
    other = SynthWorld(WorldConfig(seed=2))
    assert any(a.scene(i) != other.scene(i) for i in range(5))


@pytest.mark.parametrize("index", range(40))
def test_scene_invariants(index):
    world = SynthWorld(WorldConfig(max_objects=4, seed=5))
    scene = world.scene(index)
    labels = scene.labels
    assert len(set(labels)) == len(labels) and set(labels) <= set(CLASS_NAMES[:8])
    main = scene.main
    assert main.on_screen and main.visible == ((0.0, 4.0),) and len(main.sounding) == 1
    assert all(main.loudness > o.loudness for o in scene.objects[1:])
    for o in scene.objects:
        for s, e in o.visible + o.sounding:
            assert 0 <= s < e <= 4.0 and s == int(s) and e == int(e)  # 1-s grid
    boxes = [o.box for o in scene.objects if o.on_screen]
    for i, p in enumerate(boxes):  # on-screen objects never overlap
        for q in boxes[i + 1 :]:
            assert p[2] <= q[0] or q[2] <= p[0] or p[3] <= q[1] or q[3] <= p[1]


def test_class_restriction():
    world = SynthWorld(WorldConfig(max_objects=2))
    for i in range(20):
        assert set(world.scene(i, classes=["drum", "bell"]).labels) <= {"drum", "bell"}
    with pytest.raises(KeyError, match="valid"):
        world.scene(0, classes=["unicorn"])


@pytest.mark.parametrize(
    "shape", sorted({c.shape for c in __import__("crabplus.data.synth", fromlist=["CLASSES"]).CLASSES})
)
def test_every_shape_touches_all_sides(shape):
    m = shape_mask(shape, 16)
    assert m[0].any() and m[-1].any() and m[:, 0].any() and m[:, -1].any()


@pytest.mark.parametrize("index", range(6))
def test_frames_and_masks_follow_truth(index):
    world = SynthWorld(CLEAN)
    scene = world.scene(index)
    clip = world.render(scene)
    size = CLEAN.frame_size
    assert clip.frames.shape == (16, size, size, 3) and clip.frames.dtype == np.uint8
    assert set(clip.masks) == {o.obj_id for o in scene.objects if o.on_screen}
    for o in scene.visible_objects():
        mask = clip.masks[o.obj_id]
        ys, xs = np.nonzero(mask)
        box_px = np.array(o.box) * size
        np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], box_px, atol=1)
        for k in range(16):
            pix = clip.frames[k][mask]
            expect = class_spec(o.label).colour if o.visible_at(k / 4) else BACKGROUND
            assert (pix == np.array(expect, dtype=np.uint8)).all()
    union = np.zeros((size, size), bool)
    for m in clip.masks.values():
        union |= m
    assert (clip.frames[:, ~union] == np.array(BACKGROUND, dtype=np.uint8)).all()


def _band_energy(x: np.ndarray, sr: int, f: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    return float(spec[np.abs(freqs - f) < 15].sum() / spec.sum())


@pytest.mark.parametrize("index", range(6))
def test_audio_follows_truth(index):
    """In each second, every sounding object's fundamental carries energy and silent seconds are silent."""
    world = SynthWorld(CLEAN)
    scene = world.scene(index)
    audio, sr = world.render(scene).audio, CLEAN.sample_rate
    assert audio.shape == (4 * sr,) and audio.dtype == np.float32 and np.abs(audio).max() <= 1
    for sec in range(4):
        chunk = audio[int((sec + 0.1) * sr) : int((sec + 0.9) * sr)]
        active = [o for o in scene.objects if o.sounding_at(sec + 0.5)]
        if not active:
            assert np.abs(chunk).max() == 0
            continue
        for o in active:
            assert _band_energy(chunk, sr, class_spec(o.label).freq_hz) > 0.02, (o.label, sec)


def test_louder_object_has_higher_rms():
    world = SynthWorld(CLEAN)
    sr = CLEAN.sample_rate
    for i in range(30):
        scene = world.scene(i)
        solo = [o for o in scene.sounding_objects() if o.sounding[0][1] - o.sounding[0][0] >= 1]
        if len(solo) < 2:
            continue
        from crabplus.data.synth.render import RMS_SCALE, source_wave

        t = np.arange(sr) / sr
        rms = {
            o.label: np.sqrt(np.mean((RMS_SCALE * o.loudness * source_wave(class_spec(o.label), t)) ** 2))
            for o in solo
        }
        assert max(rms, key=rms.get) == scene.main.label


def test_merge_intervals():
    assert merge_intervals([(2, 3), (0, 1), (1, 2), (5, 6)]) == [(0, 3), (5, 6)]


def test_centred_fixed_size_objects_keep_every_other_draw():
    """object_jitter=False with a fixed object_scale: the box depends on the cell only, nothing else moves."""
    jittered = SynthWorld(WorldConfig(seed=4, max_objects=3))
    centred = SynthWorld(WorldConfig(seed=4, max_objects=3, object_scale=(0.9, 0.9), object_jitter=False))
    cells = {}
    for index in range(30):
        a, b = jittered.scene(index), centred.scene(index)
        for oa, ob in zip(a.objects, b.objects, strict=True):
            assert (oa.label, oa.visible, oa.sounding, oa.loudness) == (ob.label, ob.visible, ob.sounding, ob.loudness)
            if ob.box is None:
                continue
            # 64-px frame, 3 x 2 grid: columns [0, 21), [21, 42), [42, 64); rows [0, 32), [32, 64); side 0.9 * 21
            col = min(int(ob.centre_x * 3), 2)
            row = int((ob.box[1] + ob.box[3]) / 2 * 2)
            cx0, cx1 = (col * 64) // 3, ((col + 1) * 64) // 3
            cy0, cy1 = row * 32, (row + 1) * 32
            side = round(0.9 * min(cx1 - cx0, cy1 - cy0))
            x0, y0 = cx0 + (cx1 - cx0 - side) // 2, cy0 + (cy1 - cy0 - side) // 2
            assert ob.box == (x0 / 64, y0 / 64, (x0 + side) / 64, (y0 + side) / 64)
            cells.setdefault((col, row), set()).add(ob.box)
    assert len(cells) == 6 and all(len(boxes) == 1 for boxes in cells.values())


def test_object_scale_is_checked():
    with pytest.raises(ValueError, match="object_scale"):
        WorldConfig(object_scale=(0.9, 0.5))
