"""notebooks/transfer_analysis.ipynb runs headless against the tiny store (tests/transfer/tiny_store.py)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from tests.transfer.tiny_store import build_tiny_store

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "transfer_analysis.ipynb"


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/markdown", ""))
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.integration
def test_notebook_executes_on_tiny_store(tmp_path, monkeypatch):
    store = build_tiny_store(tmp_path / "results.sqlite")
    monkeypatch.setenv("CRABPLUS_RESULTS_STORE", str(store.path))
    monkeypatch.setenv("CRABPLUS_TRANSFER_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("CRABPLUS_BASELINE_RUN", "mt-lora-0")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = _text(nb)
    assert "8 runs" in text
    assert "+6.25% ± 2.95%" in text  # Δm of the two LoRA seeds
    assert "| **Δm** |" in text  # the side-by-side table
    assert "lora: missing two-task runs: a+c, b+c" in text
    assert (tmp_path / "out" / "comparison.png").is_file()
    assert len(list((tmp_path / "out").glob("pairs_*.png"))) == 1
