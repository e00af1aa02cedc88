"""tools/bench_train.py: the old path's tokenizer calls give the new path's ids, the demo's first-pass share
is the demo world's clips over its samples, and a short run prints the whole table."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bench_train  # noqa: E402


@pytest.mark.unit
def test_per_text_tokenizer_gives_the_list_calls_ids() -> None:
    from crabplus.model import build_avllm

    tokenizer = build_avllm("tiny-modular").tokenizer
    texts = ["<video><audio> what is making the sound?", "a dog barks", ""]
    old = bench_train.PerTextTokenizer(tokenizer)
    assert (
        old(texts, add_special_tokens=False)["input_ids"]
        == tokenizer(texts, add_special_tokens=False)["input_ids"]
    )
    assert len(old) == len(tokenizer) and old.eos_token_id == tokenizer.eos_token_id


@pytest.mark.unit
def test_demo_first_pass_share_is_clips_over_samples() -> None:
    config = yaml.safe_load((ROOT / "configs/demo/multitask_ilora.yaml").read_text())
    # configs/data/synth_demo.yaml: 7 tasks x 200 training clips + synth_match's 600; 1600 steps of batch 8
    assert bench_train.demo_first_pass_share(config) == pytest.approx((7 * 200 + 600) / (1600 * 8))


@pytest.mark.slow
def test_a_short_run_prints_every_row(capsys) -> None:
    assert bench_train.main(["--steps", "3", "--warmup", "8", "--eval-batches", "1"]) == 0
    out = capsys.readouterr().out
    cells = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    rows = {c[0]: c[1:] for c in cells if len(c) > 2}  # name, old, new[, new/old]
    for name in ("step total (ms/step)", "real (non-pad) tokens/s", "eval samples/s (loss + generation)"):
        old, new, ratio = (float(v) for v in rows[name])
        assert old > 0 and new > 0 and ratio == pytest.approx(new / old, abs=0.006)
    assert 0 <= float(rows["feature cache hit rate (these steps)"][-1]) <= 1
    assert "first pass, steps 5-7" in out and "the demo run weighted" in out
