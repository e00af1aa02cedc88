"""The mp4 encoder gives the same bytes for the same frames whatever the heap held before.

libx264 reads heap memory it never wrote: before ``zeroed_allocations`` an encode of one scene gave another
mp4 about once in 20 calls (more often beside other processes), so ``crabplus data synth`` was not
byte-reproducible. The churn below leaves garbage of varying sizes in freed memory between encodes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from crabplus.data.encode import encode_mp4
from crabplus.data.synth.generate import load_synth_config
from crabplus.data.synth.world import SynthWorld

DEMO_WORLD = Path(__file__).resolve().parents[2] / "configs" / "data" / "synth_demo.yaml"


@pytest.mark.unit
def test_encode_mp4_ignores_what_the_heap_held():
    world = SynthWorld(load_synth_config(DEMO_WORLD).world_config("synth_cap"))
    frames = world.render(world.scene(7)).frames  # a clip whose mp4 varied in the demo world
    rng = np.random.default_rng(0)
    garbage: list[bytes] = []
    digests = set()
    for _ in range(100):
        garbage.append(rng.bytes(int(rng.integers(1, 300_000))))  # freed later at random: dirty heap
        if len(garbage) > 20:
            garbage.pop(int(rng.integers(0, 20)))
        digests.add(hashlib.md5(encode_mp4(frames, 4, None)).hexdigest())
    assert len(digests) == 1
