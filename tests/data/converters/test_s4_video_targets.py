"""S4 shards to scores: mask targets carry ``video`` (from ``meta["video_id"]``), so F is per video.

The S4 test fixture has one video, carB, of 5 frames whose 5th mask is empty. Perfect predictions give
F = 1 per video (max of the mean curve over its 4 object frames). Scored per frame, as without the video
key, the empty frame would add a 0: 4/5.
"""

from __future__ import annotations

import pytest
from tests.data.converters.test_convert_avsbench import _s4_layout

from crabplus import tasks
from crabplus.data.converters import main
from crabplus.evaluate.trivial import read_targets


@pytest.mark.integration
def test_s4_targets_group_frames_by_video(tmp_path, media, put_file) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    _s4_layout(src, put_file, media, "dogA,dog,dog,train\ncarB,car,car,test\n")
    assert main(["s4", "--src", str(src), "--out", str(out), "--split", "test"]) == 0
    targets = read_targets(out, "s4", "test")
    assert [t["video"] for t in targets] == ["carB"] * 5
    metric = tasks.get("s4").make_metric()
    metric.update([{"label": "car", "mask": t["mask"]} for t in targets], targets)
    assert metric.compute()["f"] == pytest.approx(1.0)
    frames = tasks.get("s4").make_metric()
    frames.update(
        [{"label": "car", "mask": t["mask"]} for t in targets],
        [{k: v for k, v in t.items() if k != "video"} for t in targets],
    )
    assert frames.compute()["f"] == pytest.approx(4 / 5)
