"""Time forward+backward of one adapted linear: frozen alone, peft LoRA, Crab's per-head loop, crabplus I-LoRA.

Shapes: Crab+ (d_in = d_out = 3584, r = 128, alpha = 256, K = 3, dropout 0.1, 2048 tokens) and a
small one (d = 256, r = 8, alpha = 16, K = 3, dropout 0.05, 4096 tokens). All variants run in training
mode (dropout on) on the same input, which requires grad as inside a network; the frozen weight gets
no gradient. Reported: median wall time of ``repeats`` runs after one warm-up, the ratio to plain LoRA,
and the ratio the analytic FLOP count implies (fwd + bwd GEMMs only)::

    frozen  4·N·d_in·d_out                          (y = x Wᵀ; dx = dy W)
    LoRA    frozen + 6·N·r·(d_in + d_out)
    I-LoRA  frozen + 6·N·(d_in·(r + K) + K·r·d_out)  (router, shared A, gated K·r up-projection)
    loop    frozen + 6·N·K·(d_in·r + r·d_out + d_in) (Crab: A·x recomputed per head)

Usage: ``python tools/bench_ilora.py [--threads 2] [--repeats-big 3] [--repeats-small 15]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora import ILoRAConfig, inject


class CrabLoopLinear(nn.Module):
    """Crab's ``peft_hyper`` forward: one A(drop(x)) per head."""

    def __init__(self, base: nn.Linear, heads: int, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.base, self.heads, self.scaling = base, heads, alpha / rank
        self.lora_dropout = nn.Dropout(dropout)
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_route = nn.Linear(base.in_features, heads, bias=False)
        for i in range(heads):
            setattr(self, f"lora_B{i}", nn.Linear(rank, base.out_features, bias=False))
            nn.init.normal_(getattr(self, f"lora_B{i}").weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        route = F.softmax(self.lora_route(x), dim=-1, dtype=torch.float32).to(y.dtype)
        for i in range(self.heads):
            y = (
                y
                + route[..., i : i + 1]
                * getattr(self, f"lora_B{i}")(self.lora_A(self.lora_dropout(x)))
                * self.scaling
            )
        return y


def build(kind: str, d: int, heads: int, rank: int, alpha: float, dropout: float) -> nn.Module:
    torch.manual_seed(0)
    holder = nn.ModuleDict({"lin": nn.Linear(d, d, bias=False)})
    holder.lin.weight.requires_grad_(False)
    if kind == "frozen":
        return holder.lin
    if kind == "lora (peft)":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            holder, LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=["lin"])
        )
        return model.base_model.model.lin
    if kind == "per-head loop (Crab)":
        return CrabLoopLinear(holder.lin, heads, rank, alpha, dropout)
    shared = kind == "crabplus I-LoRA"
    config = ILoRAConfig(
        heads=heads, rank=rank, alpha=alpha, dropout=dropout, shared_dropout=shared, target_modules=["lin"]
    )
    layer = inject(holder, config).lin
    nn.init.normal_(layer.lora_B.weight, std=0.01)
    return layer


def fwd_bwd_step(layer: nn.Module, x: torch.Tensor, dy: torch.Tensor) -> float:
    """Seconds of one forward+backward (input requires grad, frozen weight does not)."""
    start = time.perf_counter()
    layer(x.detach().requires_grad_(True)).backward(dy)
    seconds = time.perf_counter() - start
    for p in layer.parameters():
        p.grad = None
    return seconds


def time_round_robin(
    layers: dict[str, nn.Module], x: torch.Tensor, dy: torch.Tensor, repeats: int
) -> dict[str, float]:
    """Median seconds per variant; variants alternate within each round, so load drift on a shared
    machine hits all of them alike."""
    times: dict[str, list[float]] = {k: [] for k in layers}
    for layer in layers.values():
        layer.train()
        fwd_bwd_step(layer, x, dy)  # warm-up
    for _ in range(repeats):
        for kind, layer in layers.items():
            times[kind].append(fwd_bwd_step(layer, x, dy))
    return {k: statistics.median(v) for k, v in times.items()}


def flops(kind: str, n: int, d: int, heads: int, rank: int) -> float:
    frozen = 4 * n * d * d
    extra = {
        "frozen": 0,
        "lora (peft)": 6 * n * rank * 2 * d,
        "per-head loop (Crab)": 6 * n * heads * (d * rank + rank * d + d),
        "crabplus I-LoRA": 6 * n * (d * (rank + heads) + heads * rank * d),
        "crabplus I-LoRA, per-head dropout": 6 * n * (heads * d * rank + d * heads + heads * rank * d),
    }[kind]
    return float(frozen + extra)


KINDS = (
    "frozen",
    "lora (peft)",
    "per-head loop (Crab)",
    "crabplus I-LoRA",
    "crabplus I-LoRA, per-head dropout",
)


def bench_shape(
    name: str, n: int, d: int, heads: int, rank: int, alpha: float, dropout: float, repeats: int
) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g)
    dy = torch.randn(n, d, generator=g)
    print(
        f"\n== {name}: tokens={n} d_in=d_out={d} r={rank} K={heads} alpha={alpha:g} dropout={dropout} (median of {repeats})"
    )
    print(f"{'variant':36s} {'ms':>10s} {'x LoRA':>8s} {'FLOP x LoRA':>12s}")
    results = time_round_robin(
        {kind: build(kind, d, heads, rank, alpha, dropout) for kind in KINDS}, x, dy, repeats
    )
    for kind, seconds in results.items():
        ratio = seconds / results["lora (peft)"]
        fratio = flops(kind, n, d, heads, rank) / flops("lora (peft)", n, d, heads, rank)
        print(f"{kind:36s} {1e3 * seconds:10.2f} {ratio:8.3f} {fratio:12.3f}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats-big", type=int, default=3)
    parser.add_argument("--repeats-small", type=int, default=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    big = bench_shape("Crab+ shape", 2048, 3584, 3, 128, 256.0, 0.1, args.repeats_big)
    small = bench_shape("small shape", 4096, 256, 3, 8, 16.0, 0.05, args.repeats_small)
    ok = [
        ("Crab+: I-LoRA <= 1.10 x LoRA", big["crabplus I-LoRA"] <= 1.10 * big["lora (peft)"]),
        ("small: I-LoRA <= 1.25 x LoRA", small["crabplus I-LoRA"] <= 1.25 * small["lora (peft)"]),
        ("Crab+: I-LoRA faster than loop", big["crabplus I-LoRA"] < big["per-head loop (Crab)"]),
        ("small: I-LoRA faster than loop", small["crabplus I-LoRA"] < small["per-head loop (Crab)"]),
    ]
    print()
    for label, passed in ok:
        print(f"{'PASS' if passed else 'MISS'}  {label}")
    print(f"total {time.perf_counter() - start:.0f} s, threads={args.threads}, torch {torch.__version__}")
    assert math.isfinite(big["frozen"])


if __name__ == "__main__":
    main()
