"""``crabplus data inspect`` on a converted AVSS fixture in the official layout: counts, the converter's
skipped rows by reason, label and mask-class histograms, media sizes, and the contact sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.data.converters.conftest import put
from tests.data.converters.test_avss_semantic import _paint
from tests.data.test_inspect import _sheet_ok

from crabplus.data.cli import main as data_main
from crabplus.data.converters import main as convert_main
from crabplus.tasks.families import AVSBENCH_CLASSES

pytestmark = pytest.mark.integration


def test_inspect_converted_avss_fixture(tmp_path, media) -> None:
    """Three metadata rows: one converts (2 frames), one has no labels_rgb png (skipped, no annotated
    frame), one misses its frame file (skipped, missing media)."""
    src, shards = tmp_path / "AVSBench_semantic", tmp_path / "shards"
    put(
        src / "metadata.csv",
        "vid,uid,s_min,s_sec,a_obj,split,label\n"
        "aaaaaaaaaaa,aaaaaaaaaaa_0,0,0,dog,test,v1m\n"
        "bbbbbbbbbbb,bbbbbbbbbbb_0,0,0,man,test,v1m\n"
        "ccccccccccc,ccccccccccc_10,0,10,man,test,v1m\n",
    )
    dog, man = AVSBENCH_CLASSES.index("dog"), AVSBENCH_CLASSES.index("man")
    maps = []
    for i in range(2):
        ids = np.zeros((32, 32), dtype=np.int64)
        ids[4:20, 8:24] = dog
        if i == 1:
            ids[24:, :8] = man
        maps.append(ids)
        put(src / "v1m" / "aaaaaaaaaaa_0" / "frames" / f"{i}.jpg", media.jpg)
        put(src / "v1m" / "aaaaaaaaaaa_0" / "labels_rgb" / f"{i}.png", _paint(ids))
    for uid in ("aaaaaaaaaaa_0", "bbbbbbbbbbb_0", "ccccccccccc_10"):
        put(src / "v1m" / uid / "audio.wav", media.wav)
    put(src / "v1m" / "ccccccccccc_10" / "labels_rgb" / "0.png", _paint(maps[0]))  # its frame is missing
    assert convert_main(["avss", "--src", str(src), "--out", str(shards), "--split", "test"]) == 0
    assert data_main(["inspect", str(shards), "--task", "avss"]) == 0
    (s,) = json.loads((shards / "_inspect" / "summary.json").read_text())
    assert (s["samples"], s["index_samples"]) == (2, 2)
    assert s["skipped"] == {"no annotated frame": 1, "missing media": 1} and s["skipped_total"] == 2
    assert s["labels"] == {"dog": 2}
    assert s["mask_classes"] == {"dog": 2, "man": 1}
    fg = [float((m != 0).mean()) for m in maps]
    assert s["mask_foreground_share"]["mean"] == pytest.approx(np.mean(fg))
    assert s["media"]["jpg"]["resolutions"] == {"32x32": 2}
    assert s["media"]["wav"]["duration_s"]["mean"] == pytest.approx(1.0, abs=0.05)
    _sheet_ok(shards / "_inspect" / s["sheet"])
