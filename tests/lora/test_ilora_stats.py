"""RoutingStats and the report files against sums computed by hand from the formula's gates."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import torch.nn as nn
from _variants import expected_gate, routing_names, variant_config

from crabplus.lora import (
    RoutingStats,
    heatmap_matrices,
    inject,
    layer_group,
    read_routing_stats,
    routing_inputs,
    write_routing_stats,
)

pytestmark = pytest.mark.unit


def two_layer_model(routing: str = "token") -> nn.Module:
    holder = nn.ModuleDict(
        {"layers": nn.ModuleList([nn.ModuleDict({"q_proj": nn.Linear(8, 8)}) for _ in range(2)])}
    )
    holder.audio_encoder = nn.ModuleDict({"fc": nn.Linear(8, 8)})
    cfg = variant_config(
        routing, 3, rank=2, target_modules=["q_proj"], encoder_target_modules={"audio_encoder": ["fc"]}
    )
    return inject(holder, cfg).eval()


@pytest.mark.parametrize("routing", routing_names())
def test_stats_match_hand_computed_means(routing: str) -> None:
    model = two_layer_model(routing)
    layer = model.layers[0].q_proj
    x = torch.randn(2, 4, 8)
    task_ids = torch.tensor([1, 0])
    modality = torch.tensor([[1, 1, 0, -1], [2, 0, 0, 0]])  # -1: padding, not counted
    stats = RoutingStats(task_names=["ave", "avqa"])
    with stats.collect(model), torch.no_grad(), routing_inputs(task_ids=task_ids, modality_ids=modality):
        layer(x)
        model.audio_encoder.fc(x)
    with routing_inputs(task_ids=task_ids):
        gate = expected_gate(layer, x, task_ids)[0]  # (2, 4, 3)
    rows = {(r["layer"], r["task"], r["modality"], r["head"]): r for r in stats.records()}
    cells = {
        ("avqa", "video"): [(0, 0), (0, 1)],
        ("avqa", "text"): [(0, 2)],
        ("ave", "audio"): [(1, 0)],
        ("ave", "text"): [(1, 1), (1, 2), (1, 3)],
    }
    for (task, mod), toks in cells.items():
        g = torch.stack([gate[b, t] for b, t in toks])
        entropy = -torch.xlogy(g, g).sum(-1).mean()  # 0·log 0 = 0 (top-k gates have zeros)
        for h in range(3):
            row = rows[("layers.0.q_proj", task, mod, h)]
            assert row["tokens"] == len(toks) and row["group"] == "layers.*.q_proj"
            assert row["mean_gate"] == pytest.approx(float(g[:, h].mean()), abs=1e-6)
            assert row["entropy"] == pytest.approx(float(entropy), abs=1e-6)
    assert len([k for k in rows if k[0] == "layers.0.q_proj"]) == 4 * 3
    enc = {(k[1], k[2]) for k in rows if k[0] == "audio_encoder.fc"}
    assert enc == {("avqa", "audio"), ("ave", "audio")}  # encoder tokens: the encoder's modality
    assert not any(k[0] == "layers.1.q_proj" for k in rows)  # not run: no rows
    assert all(layer.collector is None for layer in (model.layers[0].q_proj, model.audio_encoder.fc))


def test_reduce_and_report_files(tmp_path) -> None:
    model = two_layer_model()
    stats = RoutingStats(task_names=["t0"])
    with stats.collect(model), torch.no_grad(), routing_inputs(task_ids=torch.tensor([0])):
        for block in model.layers:
            block.q_proj(torch.randn(1, 5, 8))
    before = stats.records()
    stats.reduce(lambda t: t * 2)  # e.g. all-reduce over 2 identical ranks
    after = stats.records()
    assert [r["tokens"] * 2 for r in before] == [r["tokens"] for r in after]
    assert [r["mean_gate"] for r in before] == pytest.approx([r["mean_gate"] for r in after])
    paths = write_routing_stats(after, tmp_path, step=7, tasks=["t0"], modalities=["text"])
    assert paths["png"].stat().st_size > 0
    doc = read_routing_stats(tmp_path)
    assert doc["step"] == 7 and doc["rows"] == json.loads(json.dumps(after))
    with paths["csv"].open() as f:
        assert len(list(csv.DictReader(f))) == len(after)
    ((tasks, matrix),) = heatmap_matrices(after).values()
    want = [
        sum(r["mean_gate"] * r["tokens"] for r in after if r["head"] == h)
        / sum(r["tokens"] for r in after if r["head"] == h)
        for h in range(3)
    ]
    assert tasks == ["t0"] and matrix[0].tolist() == pytest.approx(want)


def test_layer_group() -> None:
    assert (
        layer_group("language_model.model.layers.12.mlp.up_proj")
        == "language_model.model.layers.*.mlp.up_proj"
    )
    assert layer_group("blocks.0") == "blocks.*"
