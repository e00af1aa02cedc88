"""notebooks/routing_analysis.ipynb runs headless (nbclient) against a tiny hand-written stats file, and
prints the values worked out here by hand."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from crabplus.lora import write_routing_stats

pytestmark = pytest.mark.integration
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "routing_analysis.ipynb"


def row(layer: str, task: str, modality: str, head: int, gate: float, entropy: float, tokens: int) -> dict:
    group = layer.replace(".0.", ".*.").replace(".1.", ".*.")
    return dict(
        layer=layer,
        group=group,
        task=task,
        modality=modality,
        head=head,
        mean_gate=gate,
        entropy=entropy,
        tokens=tokens,
    )


def tiny_rows() -> list[dict]:
    rows = []
    # two layers of one group, two tasks, 2 heads; gates per (layer, task) and token counts chosen by hand
    for layer, task, modality, gates, ent, n in [
        ("lm.layers.0.q_proj", "ave", "video", (0.8, 0.2), 0.5, 10),
        ("lm.layers.1.q_proj", "ave", "text", (0.6, 0.4), 0.6, 30),
        ("lm.layers.0.q_proj", "avqa", "text", (0.1, 0.9), 0.3, 20),
        ("lm.layers.1.q_proj", "avqa", "audio", (0.5, 0.5), 0.7, 20),
    ]:
        rows += [row(layer, task, modality, h, g, ent, n) for h, g in enumerate(gates)]
    return rows


def test_notebook_runs_headless(tmp_path: Path) -> None:
    write_routing_stats(
        tiny_rows(), tmp_path / "routing", step=3, tasks=["ave", "avqa"], modalities=["text"], plot=False
    )
    out = tmp_path / "figs"
    os.environ["CRABPLUS_ROUTING_STATS"] = str(tmp_path / "routing")
    os.environ["CRABPLUS_NOTEBOOK_OUT"] = str(out)
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        del os.environ["CRABPLUS_ROUTING_STATS"], os.environ["CRABPLUS_NOTEBOOK_OUT"]
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # heatmap cell (ave, h0) = (10·0.8 + 30·0.6) / 40 = 0.65; (avqa, h0) = (20·0.1 + 20·0.5) / 40 = 0.3
    assert "'ave': [0.65, 0.35]" in text and "'avqa': [0.3, 0.7]" in text
    # entropy by modality: audio 0.7; text (30·0.6 + 20·0.3) / 50 = 0.48; video 0.5
    assert "{'audio': 0.7, 'text': 0.48, 'video': 0.5}" in text
    assert (out / "routing_heatmaps.png").stat().st_size > 0 and (
        out / "routing_specialisation.png"
    ).stat().st_size > 0
