"""Exact resume after a SIGKILL: the resumed run ends with the uninterrupted run's weights, bit for bit.

Each case trains ``crabplus fit`` for ``STEPS`` steps on tiny synthetic shards (I-LoRA dropout 0.3, so the
RNG state matters; two modality groups, one DataLoader worker) with ``last.ckpt`` every 2 steps. A
process is SIGKILLed (between checkpoints, or while pickling a checkpoint), the run is resumed from its
``last.ckpt`` and its final ``last.ckpt`` is compared with a run that was never interrupted.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch
import yaml
from tests.train._launch import CRABPLUS, base_env, fit_config, run_ranks, write_synth

from crabplus.train.checkpoint_io import AtomicCheckpointIO, safe_globals
from crabplus.train.module import AVLLMModule
from crabplus.train.rng import gather_rng_states, state_for_rank

STEPS = 6
EVERY = 2
TASKS = ["synth_cls", "synth_ground"]  # video+audio and audio+image batches
TIMEOUT_S = 150


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synth(tmp_path_factory.mktemp("synth_resume"), TASKS)


def _fit(
    root: Path,
    data: Path,
    name: str,
    devices: int,
    env: dict[str, str] | None = None,
    ckpt: Path | None = None,
):
    """One ``crabplus fit`` run (``devices`` processes); returns ``[(returncode, log)]`` per rank."""
    config = root / f"{name}.yaml"
    config.write_text(yaml.safe_dump(fit_config(data, TASKS, STEPS, devices=devices)))
    cmd = CRABPLUS + [
        "fit", "--config", str(config), "--runs_dir", str(root), "--run_name", name,
        "--checkpoint_every_n_steps", str(EVERY),
    ] + (["--ckpt_path", str(ckpt)] if ckpt else [])  # fmt: skip
    return run_ranks(cmd, devices, base_env(**(env or {})), TIMEOUT_S)


def _ok(results, expected_rc: int = 0) -> None:
    assert all(rc == expected_rc for rc, _ in results), "\n\n".join(
        f"rank {r} rc={rc} (expected {expected_rc}):\n{log[-4000:]}" for r, (rc, log) in enumerate(results)
    )


def _last(root: Path, name: str) -> Path:
    return root / name / "checkpoints" / "last.ckpt"


def _load(path: Path) -> dict:
    return AtomicCheckpointIO().load_checkpoint(path)  # weights_only=True with the allow-list


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, synth_root: Path):
    """``devices -> last.ckpt`` of an uninterrupted run (trained once per world size, on demand)."""
    done: dict[int, Path] = {}

    def get(devices: int) -> Path:
        if devices not in done:
            root = tmp_path_factory.mktemp(f"reference{devices}")
            _ok(_fit(root, synth_root, "clean", devices))
            done[devices] = _last(root, "clean")
        return done[devices]

    return get


def _assert_same_training_state(resumed: dict, clean: dict) -> None:
    assert resumed["global_step"] == clean["global_step"] == STEPS
    assert resumed["state_dict"].keys() == clean["state_dict"].keys()
    for name, value in clean["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], value), f"{name} differs after resume"
    assert resumed["MultiTaskDataModule"]["next_batch"] == clean["MultiTaskDataModule"]["next_batch"] == STEPS


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("devices", [1, 2], ids=["1proc", "2proc_ddp"])
def test_sigkill_between_checkpoints_then_resume_is_bitwise_exact(tmp_path, synth_root, reference, devices):
    """Killed at the start of step 5 (last.ckpt = step 4, step 4's work lost), resumed to step 6."""
    killed = _fit(tmp_path, synth_root, "run", devices, {"CRABPLUS_TEST_KILL_AT_STEP": "5"})
    _ok(killed, -signal.SIGKILL)
    saved = _load(_last(tmp_path, "run"))
    assert saved["global_step"] == 4
    assert len(saved["crabplus"]["rng"]) == devices  # every rank's RNG state, not rank 0's only
    _ok(_fit(tmp_path, synth_root, "run", devices, ckpt=_last(tmp_path, "run")))
    resumed, clean = _load(_last(tmp_path, "run")), _load(reference(devices))
    _assert_same_training_state(resumed, clean)
    moved = [n for n, v in saved["state_dict"].items() if not torch.equal(v, resumed["state_dict"][n])]
    assert moved  # steps 5 and 6 trained after the resume


@pytest.mark.slow
@pytest.mark.integration
def test_sigkill_during_checkpoint_save_keeps_the_previous_one_and_resumes_exactly(
    tmp_path, synth_root, reference
):
    """Killed while pickling the step-4 checkpoint: last.ckpt is still step 2, loads, and resumes exactly."""
    _ok(_fit(tmp_path, synth_root, "run", 1, {"CRABPLUS_TEST_KILL_IN_SAVE": "4"}), -signal.SIGKILL)
    folder = _last(tmp_path, "run").parent
    finished = sorted(p.name for p in folder.iterdir() if p.suffix == ".ckpt")
    assert finished == ["epoch=0-step=2.ckpt", "last.ckpt"]  # the step-4 file never appeared, torn or not
    assert _load(_last(tmp_path, "run"))["global_step"] == 2
    _ok(_fit(tmp_path, synth_root, "run", 1, ckpt=_last(tmp_path, "run")))
    _assert_same_training_state(_load(_last(tmp_path, "run")), _load(reference(1)))


@pytest.mark.slow
@pytest.mark.integration
def test_lightning_checkpoint_needs_no_globals_beyond_the_allow_list(reference):
    """Everything Lightning and crabplus put in a checkpoint unpickles under ``weights_only=True``."""
    path = reference(1)
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in safe_globals()}
    unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    assert unsafe <= allowed, sorted(unsafe - allowed)
    torch.load(path, weights_only=True)  # the plain torch loader, for good measure


@pytest.mark.integration
def test_rng_restore_waits_for_the_first_training_batch():
    """on_load_checkpoint only stashes the state: the draws in between (the DataLoader iterator's base
    seed) must not shift the stream the first resumed batch sees; later batches are left alone."""
    module = AVLLMModule(preset="tiny-modular", adapter={"heads": 2, "rank": 2, "alpha": 4, "dropout": 0.1})
    checkpoint = {"crabplus": {"rng": gather_rng_states(), "skipped_steps": 3}}
    expected = torch.rand(5)  # what the uninterrupted run draws in its next batch
    module.on_load_checkpoint(checkpoint)
    assert module.guard.skipped == 3
    torch.empty((), dtype=torch.int64).random_()  # the iterator's base-seed draw after the restore
    module.on_train_batch_start({}, 0)
    assert torch.equal(torch.rand(5), expected)
    module.on_train_batch_start({}, 1)  # second batch: no second restore
    assert not torch.equal(torch.rand(5), expected)


@pytest.mark.unit
def test_state_for_rank_picks_own_state_and_accepts_old_single_state():
    torch.manual_seed(1)
    first = gather_rng_states()[0]
    torch.rand(3)
    second = gather_rng_states()[0]
    assert state_for_rank([first, second], 1) is second
    assert state_for_rank(first, 5) is first  # checkpoints from before per-rank states
    with pytest.warns(UserWarning, match="not exact"):
        assert state_for_rank([first, second], 3) is second


# ----- checkpoints at validation steps (issue 19) ----------------------------------------------------------
VAL_EVERY = 2  # validation at steps 2, 4, 6; checkpoints (every 2) fall on validation steps


@pytest.fixture(scope="module")
def synth_val_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synth(tmp_path_factory.mktemp("synth_resume_val"), TASKS, val=2)


def _fit_validating(root: Path, data: Path, name: str, workers: int, env=None, ckpt=None, validate=True):
    """One process of ``crabplus fit`` with validation every ``VAL_EVERY`` steps (generation + metrics, so
    every validation writes results rows) and ``workers`` DataLoader workers."""
    config = fit_config(data, TASKS, STEPS)
    config["data"]["init_args"]["num_workers"] = workers
    if validate:
        config["trainer"].update(
            val_check_interval=VAL_EVERY, check_val_every_n_epoch=None, limit_val_batches=1
        )
        config["model"]["init_args"].update(generate_in_validation=True, max_new_tokens=4)
    (root / f"{name}.yaml").write_text(yaml.safe_dump(config))
    cmd = CRABPLUS + [
        "fit", "--config", str(root / f"{name}.yaml"), "--runs_dir", str(root), "--run_name", name,
        "--checkpoint_every_n_steps", str(EVERY),
    ] + (["--ckpt_path", str(ckpt)] if ckpt else [])  # fmt: skip
    return run_ranks(cmd, 1, base_env(**(env or {})), TIMEOUT_S)


def _result_rows(root: Path, name: str) -> list[tuple]:
    """(step, task, metric, value) of every validation row the store holds for run name ``name``."""
    import sqlite3

    with sqlite3.connect(root / "results.sqlite") as db:
        return sorted(
            db.execute(
                "SELECT r.step, r.task, r.metric, r.value FROM results r JOIN runs u ON r.run_id = u.run_id "
                "WHERE u.name = ? AND r.split = 'val'",
                (name,),
            ).fetchall()
        )


def _assert_same_optimizer_state(resumed: dict, clean: dict) -> None:
    for a, b in zip(resumed["optimizer_states"], clean["optimizer_states"], strict=True):
        assert a["state"].keys() == b["state"].keys()
        for index, values in b["state"].items():
            for key, value in values.items():
                assert torch.equal(a["state"][index][key], value), f"optimizer state {index}/{key} differs"


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize(
    ("workers", "kill"),
    [(0, "after_validation"), (2, "after_validation"), (0, "in_validation"), (0, "in_save")],
    ids=[
        "0workers_ckpt_at_val_step",
        "2workers_ckpt_at_val_step",
        "0workers_killed_in_validation",
        "0workers_killed_saving_after_validation",
    ],
)
def test_resume_from_a_validation_step_is_exact_and_each_validation_is_stored_once(
    tmp_path, synth_val_root, workers, kill
):
    """after_validation: killed at step 5, last.ckpt is step 4 (a validation step); in_validation: killed
    inside step 4's validation, last.ckpt is step 2 and step 4's validation runs on resume; in_save: killed
    while saving step 4's checkpoint, after its rows reached the store (they are not stored twice). Each way the
    resumed run ends with the uninterrupted run's weights and AdamW state, bit for bit, and the store holds
    each validation's rows exactly once, with the uninterrupted run's values."""
    clean_root = tmp_path / "clean"
    clean_root.mkdir()
    _ok(_fit_validating(clean_root, synth_val_root, "run", workers))
    env = {
        "after_validation": {"CRABPLUS_TEST_KILL_AT_STEP": "5"},
        "in_validation": {"CRABPLUS_TEST_KILL_IN_VALIDATION": "4"},
        "in_save": {"CRABPLUS_TEST_KILL_IN_SAVE": "4"},
    }[kill]
    _ok(_fit_validating(tmp_path, synth_val_root, "run", workers, env), -signal.SIGKILL)
    saved = _load(_last(tmp_path, "run"))
    assert saved["global_step"] == (4 if kill == "after_validation" else 2)
    _ok(_fit_validating(tmp_path, synth_val_root, "run", workers, ckpt=_last(tmp_path, "run")))
    resumed, clean = _load(_last(tmp_path, "run")), _load(_last(clean_root, "run"))
    _assert_same_training_state(resumed, clean)
    _assert_same_optimizer_state(resumed, clean)
    clean_rows = _result_rows(clean_root, "run")
    assert {step for step, *_ in clean_rows} == {2, 4, 6}
    assert _result_rows(tmp_path, "run") == clean_rows  # same rows, none lost, none twice


@pytest.mark.slow
@pytest.mark.integration
def test_validation_does_not_change_what_training_draws(tmp_path, synth_val_root):
    """Same weights with and without validation every 2 steps: evaluation consumes no training RNG."""
    for name, validate in (("with_val", True), ("without_val", False)):
        _ok(_fit_validating(tmp_path, synth_val_root, name, 0, validate=validate))
    with_val, without = _load(_last(tmp_path, "with_val")), _load(_last(tmp_path, "without_val"))
    _assert_same_training_state(with_val, without)
    _assert_same_optimizer_state(with_val, without)
