"""tools/bench_data.py's long-clip line: a 10-minute clip decodes as a training sample in under 3x the
time of a 10-second clip (the audio is decoded over the window used, not the whole track)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crabplus.data.sample import MediaSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from bench_data import long_clip_ratio  # noqa: E402


@pytest.mark.slow
def test_ten_minute_clip_decodes_in_under_three_times_a_ten_second_one():
    short, long = long_clip_ratio(MediaSpec(num_frames=8, frame_size=64, n_mels=64, clip_seconds=4.0))
    assert long < 3 * short, f"10-min clip {long * 1e3:.0f} ms vs 10-s clip {short * 1e3:.0f} ms"


@pytest.mark.slow
def test_real_size_run_prints_both_ratios_and_the_stages(capsys):
    import bench_data

    argv = ["--source", "128x72", "--source-seconds", "3", "--clips", "2", "--samples", "16", "--frames", "2",
            "--size", "32", "--workers", "1", "--batch-size", "4"]  # fmt: skip
    assert bench_data.main(argv) == 0
    out = capsys.readouterr().out
    ratios = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("pipeline / (1 x raw")]
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
    for stage in ("video decode", "audio decode over the window (PyAV)", "collate, uint8 frames"):
        assert stage in out
