"""Subprocess plumbing shared by test_ddp.py and test_resume.py: launching ranks, small synthetic shards.

Why subprocesses: DDP needs one process per rank, and a SIGKILL must hit a process that is not pytest.
Ranks are launched here (LOCAL_RANK/RANK/WORLD_SIZE set) instead of letting Lightning re-launch the script,
so every process gets a timeout and its log ends up in the assertion message.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CRABPLUS = [sys.executable, "-c", "import sys; from crabplus.cli import main; sys.exit(main())"]


def base_env(**extra: str) -> dict[str, str]:
    """Environment of a training subprocess: offline, one thread, the repo root importable (``tests.*``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for key in [k for k in env if k.startswith("CRABPLUS_TEST_")]:
        del env[key]  # a probe setting of the caller must not leak into an unrelated run
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(cmd: list[str], world_size: int, env: dict[str, str], timeout: float) -> list[tuple[int, str]]:
    """Run ``cmd`` once per rank as an externally launched Lightning DDP job; ``[(returncode, log)]``.

    ``world_size`` 1 runs one plain process (no distributed environment).

    A hang (a rank waiting in a collective the other never joins) ends at ``timeout``: every process is
    killed (return code -9) and the log says so.
    """
    dist_env = {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "WORLD_SIZE": str(world_size),
        "NODE_RANK": "0",
    }
    rank_env = (
        [{**dist_env, "LOCAL_RANK": str(r), "RANK": str(r)} for r in range(world_size)]
        if world_size > 1
        else [{}]
    )
    procs = [
        subprocess.Popen(
            cmd,
            cwd=REPO,
            env={**env, **rank_env[r]},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for r in range(world_size)
    ]
    results: list[tuple[int, str]] = []
    try:
        for proc in procs:
            try:
                log = proc.communicate(timeout=timeout)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                log = proc.communicate()[0] + f"\n[timed out after {timeout} s]"
            results.append((proc.returncode, log))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def fit_config(
    data_root: Path, tasks: list[str], max_steps: int, devices: int = 1, dropout: float = 0.3
) -> dict:
    """A ``crabplus fit`` config: tiny-modular with I-LoRA (dropout, so RNG matters) on synthetic shards.

    Deterministic: fixed seed, ``deterministic: true``, one DataLoader worker, no validation. The probe
    callbacks are always configured and act only when their environment variable is set.
    """
    probes = [
        {"class_path": f"tests.train._probes.{name}"}
        for name in ("KillAtStep", "KillInSave", "KillInValidation", "BatchRecorder")
    ]
    return {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu", "devices": devices, "strategy": "ddp" if devices > 1 else "auto",
            "max_steps": max_steps, "limit_val_batches": 0, "num_sanity_val_steps": 0, "log_every_n_steps": 1,
            "enable_progress_bar": False, "enable_model_summary": False, "deterministic": True, "callbacks": probes,
        },
        "model": {
            "class_path": "crabplus.train.AVLLMModule",
            "init_args": {
                "preset": "tiny-modular", "adapter": {"heads": 3, "rank": 4, "alpha": 8, "dropout": dropout},
                "optimizer": {"lr": 5.0e-3, "warmup_ratio": 0.0}, "generate_in_validation": False,
            },
        },
        "data": {
            "class_path": "crabplus.data.MultiTaskDataModule",
            "init_args": {
                "root": str(data_root), "tasks": list(tasks), "batch_size": 2, "num_workers": 1, "shuffle_buffer": 4,
                "media": {"num_frames": 4, "frame_size": 32, "n_mels": 64, "clip_seconds": 4.0},
            },
        },
    }  # fmt: skip


def write_synth(root: Path, tasks: list[str], train: int = 6, val: int = 0) -> Path:
    """``train`` training and ``val`` validation samples of each of ``tasks`` (the shipped synth world
    config), no test."""
    from crabplus.data.synth.generate import load_synth_config
    from crabplus.data.synth.generate import write_synth as write

    config = load_synth_config(
        REPO / "configs" / "data" / "synth.yaml",
        [f"splits.train={train}", f"splits.val={val}", "splits.test=0", "maxcount=3"],
    )
    config.tasks = {t: {} for t in tasks}
    write(root, config, log=lambda *_: None)
    return root
