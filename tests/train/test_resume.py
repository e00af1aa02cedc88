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
