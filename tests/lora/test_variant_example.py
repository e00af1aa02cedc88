"""Acceptance: a routing variant added in a test module — one class, one decorator — goes through the
whole I-LoRA battery of this folder (layer maths, dropout, init, gradients, balance loss, folded encoder
batches, bf16, Crab-format round trip, injected-model parity, adapter files, routing statistics, DDP),
with no edit to the battery.

The variant: Crab's token router plus a learned per-task bias on its logits,

    g(x) = softmax(x W_rᵀ + T[task(x)])        W_r (K, d_in) ``lora_route``, T (num_tasks, K) ``lora_task_bias``

T starts at zero, so the variant starts as Crab's ``token`` routing.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora import Gate, register_gate

HERE = Path(__file__).parent
NAME = "taskbias"


@register_gate(NAME)
class TaskBiasGate(Gate):
    modules = ("lora_route", "lora_task_bias")

    def __init__(self, config) -> None:
        super().__init__(config)
        self.num_tasks = config.num_tasks

    @classmethod
    def check(cls, config):
        return ("num_tasks", f"must be >= 1 when routing={NAME!r}") if config.num_tasks < 1 else None

    def build(self, d_in: int, factory: dict) -> dict[str, nn.Module]:
        return {
            "lora_route": nn.Linear(d_in, self.heads, bias=False, **factory),
            "lora_task_bias": nn.Embedding(self.num_tasks, self.heads, **factory),
        }

    def reset(self, layer: nn.Module) -> None:
        nn.init.kaiming_uniform_(layer.lora_route.weight, a=math.sqrt(5))
        nn.init.zeros_(layer.lora_task_bias.weight)

    def router(self, layer: nn.Module) -> torch.Tensor:
        return layer.lora_route.weight

    def gate(self, layer, logits, lead):
        bias = layer.lora_task_bias.weight[self.token_task_ids(lead, logits.device)]  # (N, K)
        probs = F.softmax((logits + bias).float(), dim=-1)
        return probs, probs

    def reference(self, layer, x):
        lead = x.shape[:-1]
        ids = self.token_task_ids(lead, x.device).view(lead)  # task of each token
        logits = x @ layer.lora_route.weight.T + layer.lora_task_bias.weight[ids]  # (..., K)
        probs = torch.softmax(logits.float(), dim=-1)
        return probs, probs


def collect_battery() -> dict[str, set[str]]:
    """{battery test (file::function): routing ids it is parametrised with}, from pytest --collect-only."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE), "--collect-only", "-q", "-p", "no:cacheprovider",
         f"--ignore={Path(__file__)}"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    params: dict[str, set[str]] = defaultdict(set)
    for line in proc.stdout.splitlines():
        m = re.match(r"^(\S+\.py::\w+)\[(.+)\]$", line.strip())
        if m:
            params[m[1].rsplit("/", 1)[-1]].update(m[2].split("-"))
    return {test: ids for test, ids in params.items() if "token" in ids}


@pytest.mark.integration
def test_every_battery_test_is_parametrised_with_the_new_variant() -> None:
    battery = collect_battery()
    files = {test.split("::")[0] for test in battery}
    assert files == {f"test_ilora_{n}.py" for n in ("layer", "parity", "inject_io", "stats", "ddp")}
    assert len(battery) >= 12, sorted(battery)  # 7 layer, 2 parity, 1 adapter files, 1 stats, 1 DDP
    missing = sorted(test for test, ids in battery.items() if NAME not in ids)
    assert not missing, f"battery tests that skip a registered variant: {missing}"


@pytest.mark.slow
def test_the_new_variant_passes_the_whole_battery() -> None:
    """Run only the new variant's items (DDP included) in a fresh pytest: all of them pass."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider", "-k", NAME,
         f"--ignore={Path(__file__)}"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    summary = proc.stdout.strip().splitlines()[-1]  # e.g. "18 passed, 72 deselected in 50.6s"
    passed = re.match(r"(\d+) passed, \d+ deselected in", summary)
    assert passed and int(passed[1]) >= 12, tail  # at least one item per battery test, none skipped
