"""tools/bench_gpu.py: the code path on CPU (tiny shapes) and, on a GPU machine, the real benchmark."""

from __future__ import annotations

import importlib.util
import json
import weakref
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

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


class LiveBytes(TorchDispatchMode):
    """Independent memory meter: bytes of every live tensor storage (each op's outputs tracked until freed)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = self.peak = 0

    def add(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key not in self.live:
            self.live[key] = storage.nbytes()
            self.current += self.live[key]
            self.peak = max(self.peak, self.current)
            weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.add(t)
        return out


SMALL = [
    "--layers",
    "2",
    "--hidden",
    "448",
    "--intermediate",
    "2368",
    "--heads",
    "7",
    "--kv_heads",
    "1",
    "--vocab",
    "19000",
    "--enc_layers",
    "1",
    "--enc_width",
    "160",
    "--audio_tokens",
    "62",
    "--video_tokens",
    "160",
    "--seq",
    "512",
]  # fmt: skip  (the 7B bench's proportions, scaled down)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("variant", ["lora", "ilora"])
def test_plan_estimate_is_within_15_percent_of_the_live_bytes_of_a_bf16_step(variant):
    """plan's memory model (meta-device activations + the step's state) against every live storage of two
    real training steps on CPU, counted op by op: the same check the GPU run makes against its peak."""
    bench = _bench()
    args = bench.parse_args(SMALL)
    config = bench.adapter_configs()[variant]
    torch.manual_seed(0)
    model = bench.AVShape(args).to(torch.bfloat16)
    bench.inject(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, foreach=False)
    g = torch.Generator().manual_seed(0)
    audio = torch.randn(1, args.audio_tokens, args.enc_width, generator=g).bfloat16()
    video = torch.randn(1, args.video_tokens, args.enc_width, generator=g).bfloat16()
    ids = torch.randint(0, args.vocab, (1, args.seq - args.audio_tokens - args.video_tokens), generator=g)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(audio, video, ids).backward()
        optimizer.step()

    step()  # AdamW states exist from here on, as in the benchmark's warm-up
    meter = LiveBytes()
    for tensor in [*model.parameters(), *(v for s in optimizer.state.values() for v in s.values())]:
        if tensor.dim() > 0:
            meter.add(tensor)
    with meter:
        step()
        step()
    estimate = bench.plan_estimate(args, config, torch.bfloat16) * 2**30
    assert 0.85 <= estimate / meter.peak <= 1.15, (estimate / 2**20, meter.peak / 2**20)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bench_gpu_on_a_real_device_and_plan_estimate_within_15_percent(capsys, tmp_path):
    assert _bench().main(["--layers", "4", "--steps", "3", "--json", str(tmp_path / "bench.json")]) == 0
    assert "MFU" in capsys.readouterr().out
    results = json.loads((tmp_path / "bench.json").read_text())["results"]
    for name, r in results.items():
        assert 0.85 <= r["plan_estimate_gib"] / r["peak_gib"] <= 1.15, (name, r)
