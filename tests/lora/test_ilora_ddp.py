"""I-LoRA trains under Lightning strategy="ddp" with 2 CPU processes (gloo) without unused parameters,
for every registered routing variant."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _variants import routing_names

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("routing", routing_names())
def test_ddp_two_cpu_processes(tmp_path: Path, routing: str) -> None:
    script = Path(__file__).with_name("_ddp_train.py")
    out = tmp_path / "done.txt"
    env = {
        **os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "2",
        "NODE_RANK": "0", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore",
    }  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(out), str(tmp_path), routing],
            env={**env, "LOCAL_RANK": str(rank), "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for rank in range(2)
    ]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=170)[0])
    finally:
        for proc in procs:
            proc.kill()
    assert all(p.returncode == 0 for p in procs), "\n".join(log[-3000:] for log in logs)
    assert out.read_text() == f"{routing} ok\n"
