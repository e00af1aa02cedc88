"""The parameter-matched LoRA control derived from an I-LoRA recipe (crabplus/transfer/_matched.py)."""

from __future__ import annotations

import pytest
import yaml

from crabplus.train.module import AVLLMModule
from crabplus.transfer.cli import main

ILORA = {
    "run_name": "mt_ilora",
    "trainer": {"max_steps": 10, "callbacks": [{"class_path": "crabplus.train.callbacks.RoutingStatsCallback"}]},
    "model": {"class_path": "crabplus.train.AVLLMModule", "init_args": {
        "preset": "tiny-modular", "variant": "ilora", "trainable": "adapters+connectors",
        "adapter": {"heads": 3, "rank": 8, "alpha": 16, "dropout": 0.05, "shared_dropout": True}}},
    "data": {"init_args": {"tasks": [{"name": "synth_cls"}], "batch_size": 2}},
}  # fmt: skip


def count(adapter):
    return AVLLMModule(preset="tiny-modular", adapter=adapter, trainable="adapters+connectors").num_trainable


@pytest.mark.integration
def test_matched_rank_is_the_closest_plain_lora(tmp_path, capsys):
    config = tmp_path / "ilora.yaml"
    config.write_text(yaml.safe_dump(ILORA))
    out = tmp_path / "matched.yaml"
    assert main(["matched", "--config", str(config), "--out", str(out), "--no-resolve"]) == 0
    printed = capsys.readouterr().out
    derived = yaml.safe_load(out.read_text())
    adapter = derived["model"]["init_args"]["adapter"]
    rank = adapter["rank"]
    assert f"rank {rank} trains" in printed
    assert adapter["heads"] == 1 and adapter["alpha"] == pytest.approx(16 * rank / 8)
    assert derived["model"]["init_args"]["variant"] == "lora" and derived["run_name"] == "mt_ilora_matched"
    assert derived["trainer"]["callbacks"] == []  # no router to report on
    target = count(ILORA["model"]["init_args"]["adapter"])
    base = {k: v for k, v in adapter.items() if k != "rank"}
    gaps = {r: abs(count({**base, "rank": r}) - target) for r in (rank - 1, rank, rank + 1)}
    assert gaps[rank] == min(gaps.values())
    assert count({**base, "rank": 8}) < target  # the same-rank LoRA trains fewer parameters
    assert f"{count({**base, 'rank': rank}):,}" in printed and f"{target:,}" in printed
