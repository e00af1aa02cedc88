"""2-process CPU DDP (gloo): the loss curve of 1 process, and modality-homogeneous steps on every rank."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tests.train import _ddp_parity
from tests.train._launch import CRABPLUS, base_env, fit_config, run_ranks, write_synth

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TIMEOUT_S = 150  # a hang in a collective shows up as this timeout, not as a stuck CI job


def _check(results: list[tuple[int, str]]) -> None:
    assert all(rc == 0 for rc, _ in results), "\n\n".join(
        f"rank {r} rc={rc}:\n{log[-4000:]}" for r, (rc, log) in enumerate(results)
    )


def test_two_process_loss_curve_matches_one_process(tmp_path: Path) -> None:
    """Global batch 4 = 2 ranks x 2 samples. Every answer has the same token count, so the mean of the two
    ranks' losses is the 1-process batch mean, and DDP's averaged gradient is the 1-process gradient."""
    from crabplus.model import build_avllm

    model = build_avllm("tiny-modular")
    data = _ddp_parity.samples(model.media_spec)
    labels = model.tokenize([s["prompt"] for s in data], [s["answer"] for s in data])["labels"]
    assert len(set((labels != -100).sum(1).tolist())) == 1  # the premise: equal answer lengths
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    cmd = [sys.executable, str(Path(_ddp_parity.__file__)), str(two), "2"]
    results = run_ranks(cmd, 2, base_env(), TIMEOUT_S)
    _ddp_parity.train(str(one), 1)  # the reference, in this process (same script, same seeds)
    _check(results)
    ref = torch.load(one / "rank0.pt")
    r0, r1 = (torch.load(two / f"rank{r}.pt") for r in (0, 1))
    assert len(ref["losses"]) == len(r0["losses"]) == len(r1["losses"]) == _ddp_parity.STEPS
    ddp_curve = [(a + b) / 2 for a, b in zip(r0["losses"], r1["losses"])]
    assert ddp_curve == pytest.approx(ref["losses"], rel=1e-5, abs=1e-6)
    assert r0["losses"] != pytest.approx(r1["losses"])  # the ranks really saw different halves
    for name, value in ref["weights"].items():
        assert torch.equal(r0["weights"][name], r1["weights"][name]), f"ranks differ on {name}"
        torch.testing.assert_close(r0["weights"][name], value, rtol=1e-4, atol=1e-5, msg=name)


@pytest.fixture(scope="module")
def mixed_groups_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two video+audio tasks (synth_cls, synth_loc) and one image+audio task (synth_ground)."""
    return write_synth(tmp_path_factory.mktemp("synth_groups"), ["synth_cls", "synth_loc", "synth_ground"])


def test_ddp_fit_steps_are_modality_homogeneous_across_ranks(tmp_path: Path, mixed_groups_root: Path) -> None:
    """``crabplus fit`` on 2 ranks: each step's modality group (read from the batch's media keys) is the
    same on both ranks, the ranks fill their slots with different tasks, the run neither hangs nor fails,
    and the checkpoint holds both ranks' RNG states."""
    steps = 6
    config = tmp_path / "fit.yaml"
    config.write_text(
        yaml.safe_dump(
            fit_config(mixed_groups_root, ["synth_cls", "synth_loc", "synth_ground"], steps, devices=2)
        )
    )
    record = tmp_path / "record"
    record.mkdir()
    cmd = CRABPLUS + [
        "fit", "--config", str(config), "--runs_dir", str(tmp_path / "runs"), "--run_name", "ddp",
        "--checkpoint_every_n_steps", "3",
    ]  # fmt: skip
    _check(run_ranks(cmd, 2, base_env(CRABPLUS_TEST_RECORD_DIR=str(record)), TIMEOUT_S))
    rows = [
        [json.loads(line) for line in (record / f"rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)
    ]
    assert [row["step"] for row in rows[0]] == [row["step"] for row in rows[1]] == list(range(steps))
    groups = [[row["group"] for row in rank_rows] for rank_rows in rows]
    assert groups[0] == groups[1]
    assert set(groups[0]) == {"video+audio", "audio+image"}  # both groups occur in these 6 steps (seed 0)
    for rank_rows in rows:
        for row in rank_rows:
            expected = {"synth_ground"} if row["group"] == "audio+image" else {"synth_cls", "synth_loc"}
            assert set(row["tasks"]) <= expected, row
    assert any(a["tasks"] != b["tasks"] for a, b in zip(*rows))  # ranks drew different tasks
    ckpt = torch.load(tmp_path / "runs" / "ddp" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == steps and len(ckpt["crabplus"]["rng"]) == 2
