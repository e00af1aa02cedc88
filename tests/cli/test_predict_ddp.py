"""``crabplus predict`` on 2 DDP processes (gloo): each rank appends to its own file, rank 0 merges them into
one ``predictions.jsonl`` with every item once (issue 16, friction 3: multi-process safe)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.train._launch import CRABPLUS, base_env, fit_config, run_ranks, write_synth

from crabplus.data.shards import iter_shard, shard_paths
from crabplus.train.callbacks.predictions import merge_prediction_files
from crabplus.train.run_layout import command_folders

TASKS = ["synth_cls", "synth_ground"]
TIMEOUT_S = 240


def _ok(results) -> None:
    assert all(rc == 0 for rc, _ in results), "\n\n".join(
        f"rank {r} rc={rc}:\n{log[-3000:]}" for r, (rc, log) in enumerate(results)
    )


@pytest.mark.unit
def test_merge_keeps_one_row_per_item_sorted_and_skips_a_torn_line(tmp_path):
    row = lambda task, key, text: {"task": task, "key": key, "generated": text}  # noqa: E731
    (tmp_path / "predictions.rank0.jsonl").write_text(
        json.dumps(row("b", "k2", "x")) + "\n" + json.dumps(row("a", "k1", "y")) + "\n" + '{"task": "a", "ke'
    )
    (tmp_path / "predictions.rank1.jsonl").write_text(
        json.dumps(row("a", "k0", "z")) + "\n" + json.dumps(row("b", "k2", "x")) + "\n"
    )
    merged = merge_prediction_files(tmp_path)
    rows = [json.loads(line) for line in merged.read_text().splitlines()]
    assert [(r["task"], r["key"]) for r in rows] == [("a", "k0"), ("a", "k1"), ("b", "k2")]
    assert not list(tmp_path.glob("predictions.rank*.jsonl"))


@pytest.mark.slow
@pytest.mark.integration
def test_two_process_predict_writes_every_item_once(tmp_path: Path) -> None:
    data = write_synth(tmp_path / "data", TASKS, train=6)
    config = fit_config(data, TASKS, max_steps=2)
    config["trainer"]["callbacks"] = []
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(config))
    common = ["--runs_dir", str(tmp_path / "runs"), "--run_name", "r"]
    _ok(
        run_ranks(
            [*CRABPLUS, "fit", "--config", str(tmp_path / "one.yaml"), *common], 1, base_env(), TIMEOUT_S
        )
    )
    config["trainer"].update(devices=2, strategy="ddp")
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(config))
    ckpt = str(tmp_path / "runs" / "r" / "checkpoints" / "last.ckpt")
    predict = [*CRABPLUS, "predict", "--config", str(tmp_path / "two.yaml"), *common, "--ckpt_path", ckpt,
               "--data.init_args.predict_split", "train"]  # fmt: skip
    _ok(run_ranks(predict, 2, base_env(), TIMEOUT_S))
    (folder,) = command_folders(tmp_path / "runs" / "r", "predict")
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    expected = sorted(
        (t, f"{p}:{raw['__key__']}")
        for t in TASKS
        for p in shard_paths(data, t, "train")
        for raw in iter_shard(p)
    )
    assert sorted((r["task"], r["key"]) for r in rows) == expected  # 12 items, each once, from both ranks
    assert not list(folder.glob("predictions.rank*.jsonl"))
