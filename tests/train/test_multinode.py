"""Multi-node as Lightning runs it, simulated on one machine (issue 19): ``torchrun --nnodes 2
--node_rank {0,1}`` on localhost, one process per "node", gloo, ``trainer.num_nodes: 2`` trains the same
weights as one node with two processes — the mixture, modality groups, RNG states and checkpoints are keyed
by global rank, never by the node-local rank (which is 0 on both nodes here). Kill -9 of one node and a
resume of both from ``last.ckpt`` gives the uninterrupted weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tests.train._launch import REPO, base_env, fit_config, free_port, run_ranks, write_synth

from crabplus.train.checkpoint_io import AtomicCheckpointIO

STEPS = 6
TASKS = ["synth_cls", "synth_ground"]  # two modality groups
TIMEOUT_S = 240
pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synth(tmp_path_factory.mktemp("synth_multinode"), TASKS)


def _config(root: Path, data: Path, name: str, nodes: int, devices: int) -> Path:
    config = fit_config(data, TASKS, STEPS, devices=devices)
    config["trainer"].update(num_nodes=nodes, strategy="ddp")
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _args(root: Path, config: Path, name: str, ckpt: Path | None) -> list[str]:
    return ["fit", "--config", str(config), "--runs_dir", str(root), "--run_name", name,
            "--checkpoint_every_n_steps", "2"] + (["--ckpt_path", str(ckpt)] if ckpt else [])  # fmt: skip


def _two_nodes(root: Path, data: Path, name: str, kill_node1_at: int | None = None, ckpt: Path | None = None):
    """Two ``torchrun`` launches, ``--node_rank`` 0 and 1, one process each; ``[(returncode, log)]``."""
    config = _config(root, data, name, nodes=2, devices=1)
    port = free_port()
    procs = []
    for node in (0, 1):
        env = base_env()
        if kill_node1_at is not None and node == 1:
            env["CRABPLUS_TEST_KILL_AT_STEP"] = str(kill_node1_at)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
               "--node_rank", str(node), "--master_addr", "127.0.0.1", "--master_port", str(port),
               "-m", "crabplus.cli", *_args(root, config, name, ckpt)]  # fmt: skip
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # the agent and its worker: killed together on a timeout
            )  # fmt: skip
        )
    results = []
    for proc in procs:
        try:
            log = proc.communicate(timeout=TIMEOUT_S)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            log = proc.communicate()[0] + f"\n[timed out after {TIMEOUT_S} s]"
        results.append((proc.returncode, log))
    return results


def _load(path: Path) -> dict:
    return AtomicCheckpointIO().load_checkpoint(path)


def _same_weights(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"] == STEPS
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, value in b["state_dict"].items():
        assert torch.equal(a["state_dict"][name], value), f"{name} differs"
    assert len(a["crabplus"]["rng"]) == len(b["crabplus"]["rng"]) == 2  # one state per global rank
    assert a["MultiTaskDataModule"]["world_size"] == 2


@pytest.fixture(scope="module")
def one_node_two_processes(tmp_path_factory, synth_root) -> Path:
    root = tmp_path_factory.mktemp("one_node")
    config = _config(root, synth_root, "one", nodes=1, devices=2)
    results = run_ranks(
        [sys.executable, "-m", "crabplus.cli", *_args(root, config, "one", None)], 2, base_env(), TIMEOUT_S
    )
    assert all(rc == 0 for rc, _ in results), "\n".join(log[-3000:] for _, log in results)
    return root / "one" / "checkpoints" / "last.ckpt"


def test_two_nodes_train_the_weights_of_one_node_with_two_processes(
    tmp_path, synth_root, one_node_two_processes
):
    results = _two_nodes(tmp_path, synth_root, "two")
    assert all(rc == 0 for rc, _ in results), "\n".join(log[-3000:] for _, log in results)
    _same_weights(_load(tmp_path / "two" / "checkpoints" / "last.ckpt"), _load(one_node_two_processes))


def test_kill_of_one_node_then_resume_gives_the_uninterrupted_weights(
    tmp_path, synth_root, one_node_two_processes
):
    killed = _two_nodes(tmp_path, synth_root, "two", kill_node1_at=5)
    assert killed[1][0] != 0  # node 1's agent reports its worker's SIGKILL; node 0 fails or hangs up
    last = tmp_path / "two" / "checkpoints" / "last.ckpt"
    assert _load(last)["global_step"] == 4
    results = _two_nodes(tmp_path, synth_root, "two", ckpt=last)
    assert all(rc == 0 for rc, _ in results), "\n".join(log[-3000:] for _, log in results)
    _same_weights(_load(last), _load(one_node_two_processes))
