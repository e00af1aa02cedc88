"""Synthetic task targets recomputed independently from the scene truth (per-second sampling)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from crabplus.data.decode import load_audio
from crabplus.data.synth import SynthWorld, WorldConfig
from crabplus.data.synth.families import FAMILIES, QA_TYPES, make_sample, still_time

pytestmark = pytest.mark.unit

WORLD = SynthWorld(WorldConfig(seed=11, visual_noise=0.0))
INDICES = range(12)


def _runs(flags: list[bool]) -> list[list[float]]:
    """[[s, e], ...] of consecutive True seconds."""
    out, start = [], None
    for sec, f in enumerate(flags + [False]):
        if f and start is None:
            start = sec
        if not f and start is not None:
            out.append([float(start), float(sec)])
            start = None
    return out


def _per_second(obj, what: str) -> list[bool]:
    return [getattr(obj, what)(sec + 0.5) for sec in range(4)]


@pytest.mark.parametrize("index", INDICES)
def test_cls_loc_avvp(index):
    scene = WORLD.scene(index)
    loudest = max(scene.sounding_objects(), key=lambda o: o.loudness)
    assert make_sample("synth_cls", WORLD, index).target == {"label": loudest.label}
    loc = make_sample("synth_loc", WORLD, index).target
    assert loc == {
        "label": loudest.label,
        "segments": _runs(_per_second(loudest, "sounding_at")),
        "duration": 4.0,
    }
    avvp = make_sample("synth_avvp", WORLD, index).target
    audio = sorted([o.label, *r] for o in scene.objects for r in _runs(_per_second(o, "sounding_at")))
    visual = sorted(
        [o.label, *r] for o in scene.objects if o.box for r in _runs(_per_second(o, "visible_at"))
    )
    assert sorted(avvp["audio"]) == audio and sorted(avvp["visual"]) == visual


@pytest.mark.parametrize("index", INDICES)
def test_ground_and_seg(index):
    scene = WORLD.scene(index)
    clip = WORLD.render(scene)
    g = make_sample("synth_ground", WORLD, index)
    t = g.meta["time"]
    assert scene.main.sounding_at(t)
    img = np.asarray(Image.open(io.BytesIO(g.media["png"])))
    np.testing.assert_array_equal(img, clip.frame_at(t))
    ys, xs = np.nonzero(clip.masks[0])
    np.testing.assert_allclose(
        g.target["box"], [xs.min() / 64, ys.min() / 64, (xs.max() + 1) / 64, (ys.max() + 1) / 64], atol=1 / 64
    )
    s = make_sample("synth_seg", WORLD, index)
    mask = np.asarray(Image.open(io.BytesIO(s.media["mask.png"]))) > 0
    np.testing.assert_array_equal(mask, clip.masks[0])
    assert s.target == {"label": scene.main.label} and still_time(WORLD, scene) == t


@pytest.mark.parametrize("index", INDICES)
def test_match_audio_comes_from_the_named_scene(index):
    sample = make_sample("synth_match", WORLD, index)
    scene = WORLD.scene(index)
    heard = load_audio(sample.media["mp4"]).numpy()[:64000]
    own = WORLD.render(scene).audio
    corr_own = np.corrcoef(heard, own)[0, 1]
    if sample.target["label"] == "yes":
        assert corr_own > 0.9
    else:
        partner = WORLD.scene(sample.meta["audio_scene"])
        assert partner.main.label not in scene.labels
        assert np.corrcoef(heard, WORLD.render(partner).audio)[0, 1] > 0.9 > corr_own


def _qa_answer(scene, question: str) -> str:
    names = [n for n in re.findall(r"the (\w+)", question) if n in {o.label for o in scene.objects}]
    objs = {o.label: o for o in scene.objects}
    if question.startswith("How many objects make"):
        return str(sum(any(o.sounding_at(s + 0.5) for s in range(4)) for o in scene.objects))
    if question.startswith("How many objects can be seen"):
        return str(
            sum(o.box is not None and any(o.visible_at(s + 0.5) for s in range(4)) for o in scene.objects)
        )
    if question.startswith("Which starts"):
        return min(names, key=lambda n: min(s for s in range(4) if objs[n].sounding_at(s + 0.5)))
    if question.startswith("Which is louder"):
        return max(names, key=lambda n: objs[n].loudness)
    if question.startswith("Is the "):
        a, b = objs[names[0]], objs[names[1]]
        return "left" if a.box[0] + a.box[2] < b.box[0] + b.box[2] else "right"
    label = re.match(r"Is there an? (\w+) making", question).group(1)
    return "yes" if label in objs and objs[label].sounding else "no"


def test_qa_answers_and_type_coverage():
    types = set()
    for index in range(60):
        s = make_sample("synth_qa", WORLD, index)
        scene = WORLD.scene(index)
        assert s.target["answer"] == _qa_answer(scene, s.meta["question"]), s.meta["question"]
        assert s.target["answer"] in s.meta["options"] and s.target["type"] == s.meta["type"]
        types.add(s.target["type"])
    assert types == set(QA_TYPES)


@pytest.mark.parametrize("index", INDICES)
def test_caption_mentions_every_object(index):
    scene = WORLD.scene(index)
    text = make_sample("synth_cap", WORLD, index).target["text"]
    for o in scene.objects:
        assert o.label in text
    assert ("off-screen" in text) == any(o.box is None for o in scene.objects)


def test_every_family_is_generated_and_unknown_is_refused():
    assert set(FAMILIES) == {
        "synth_cls",
        "synth_match",
        "synth_loc",
        "synth_avvp",
        "synth_ground",
        "synth_seg",
        "synth_qa",
        "synth_cap",
    }
    with pytest.raises(KeyError, match="valid"):
        make_sample("synth_nope", WORLD, 0)


@pytest.mark.parametrize("index", INDICES)
def test_match_reasoning_states_what_the_answer_follows_from(index):
    """The reasoning names the loudest sound of the heard audio and the classes on screen; the answer is
    'yes' exactly when that sound's class is on screen."""
    sample = make_sample("synth_match", WORLD, index)
    scene = WORLD.scene(index)
    heard = WORLD.scene(sample.meta["audio_scene"]) if "audio_scene" in sample.meta else scene
    m = re.fullmatch(r"On screen: (.*)\. The loudest sound is an? (\w+)\.", sample.reasoning)
    assert m is not None, sample.reasoning
    loudest = max(heard.sounding_objects(), key=lambda o: o.loudness).label
    on_screen = {o.label for o in scene.objects if o.box is not None and o.visible}
    assert m.group(2) == loudest
    assert set(re.findall(r"an? (\w+)", m.group(1))) == on_screen
    assert sample.target["label"] == ("yes" if loudest in on_screen else "no")
