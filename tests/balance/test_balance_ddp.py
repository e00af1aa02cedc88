"""Under DDP every rank must form the same coefficients, from all-reduced (sum, count) scores."""

import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from crabplus.balance import MLB, ForwardOutputs, branch_from_logits

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Rank 0 sees audio-easy data, rank 1 the reverse, with different batch sizes (3 and 1).
P_TRUE = {0: {"audio": [0.9, 0.8, 0.7], "video": [0.2, 0.3, 0.1]}, 1: {"audio": [0.2], "video": [0.6]}}


def _outputs(rank: int) -> ForwardOutputs:
    p = P_TRUE[rank]
    y = torch.zeros(len(p["audio"]), dtype=torch.long)

    def logits(ps):
        ps = torch.tensor(ps)
        return torch.log(torch.stack([ps, 1 - ps], dim=1))  # (B, 2)

    return ForwardOutputs(fused=branch_from_logits(logits(p["audio"]), y),
                          unimodal={m: branch_from_logits(logits(p[m]), y) for m in ("audio", "video")})


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        mlb = MLB(alpha=0.5, beta_max=10.0)
        mlb.combine(_outputs(rank))
        param = torch.nn.Parameter(torch.zeros(1))
        param.grad = torch.ones(1)
        mlb.on_before_optimizer_step({"audio": [param], "video": []})
        torch.save({"k": mlb.coefficients, "s": mlb.scores}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_ranks_agree_on_coefficients(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["k"] == r1["k"] and r0["s"] == r1["s"]
    # hand: global s_a = (0.9+0.8+0.7+0.2)/4 = 0.65, s_v = (0.2+0.3+0.1+0.6)/4 = 0.3
    assert r0["s"] == pytest.approx({"audio": 0.65, "video": 0.3})
    assert r0["k"]["video"] == pytest.approx(1 + 9 * math.tanh(0.5 * (0.65 / 0.3 - 1)), abs=1e-6)
    assert r0["k"]["audio"] == pytest.approx(1 + math.tanh(0.5 * (0.3 / 0.65 - 1)), abs=1e-6)
    # a per-rank rule would have disagreed: rank 1 alone has video dominant
    alone = MLB(alpha=0.5, beta_max=10.0)
    alone.combine(_outputs(1))
    alone.on_before_optimizer_step({})
    assert alone.coefficients["video"] < 1 < r1["k"]["video"]
