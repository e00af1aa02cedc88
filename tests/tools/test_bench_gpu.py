"""tools/bench_gpu.py: the code path on CPU (tiny shapes) and, on a GPU machine, the real benchmark."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "tools/bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
def test_smoke_bench_gpu_tiny_prints_both_variants_and_ratios(capsys):
    bench = _bench()
    assert bench.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    assert "| lora |" in out and "| ilora |" in out and "ratios I-LoRA / LoRA" in out
    configs = bench.adapter_configs()
    assert configs["lora"].heads == 1 and configs["ilora"].heads == 3
    assert configs["ilora"].rank == 128 and configs["ilora"].alpha == 256  # Crab+ settings


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bench_gpu_on_a_real_device(capsys):
    assert _bench().main(["--layers", "4", "--steps", "3"]) == 0
    assert "MFU" in capsys.readouterr().out
