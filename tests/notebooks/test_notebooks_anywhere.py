"""The notebooks as a user opens them (issue 16, friction 8): from ``notebooks/`` (no environment variables,
the store found the way the CLI finds it), runs named like on the command line, and a store holding unrelated
and partial runs, which are listed and skipped instead of crashing the notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from tests.notebooks.test_routing_notebook import tiny_rows
from tests.transfer.tiny_store import CONFIG, build_tiny_store

from crabplus.lora import write_routing_stats
from crabplus.transfer import Recipe, ResultRow, ResultsStore, RunInfo

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ENV = ("CRABPLUS_RESULTS_STORE", "CRABPLUS_TRANSFER_OUT", "CRABPLUS_BASELINE_RUN", "CRABPLUS_TRANSFER_RUNS",
       "CRABPLUS_TRANSFER_SPLIT", "CRABPLUS_RUNS_DIR", "CRABPLUS_ROUTING_STATS", "CRABPLUS_ROUTING_RUN",
       "CRABPLUS_NOTEBOOK_OUT")  # fmt: skip
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def execute(name: str, cwd: Path) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts += [output.get("text", ""), output.get("data", {}).get("text/markdown", "")]
    return "\n".join(parts)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with ``runs/`` and ``notebooks/``; the notebook runs in ``notebooks/``."""
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "runs").mkdir()
    return tmp_path


def add_partial_runs(store) -> None:
    """A multitask run named ``half`` that never validated (its recipe has no baselines either), a run
    without a recipe, and an unrelated single-task run on another task."""
    half = Recipe.from_config({**CONFIG, "trainer": {"max_steps": 7}})
    store.register_run(RunInfo("half-0", half.fingerprint, "multitask", tuple(half.tasks), "half", 0, CONFIG,
                               half.to_dict(), created=3000.0, name="half"))  # fmt: skip
    store.register_run(RunInfo("norecipe-0", "f" * 16, "multitask", ("a", "b"), "lora", 0, {}, None, 3001.0))
    other = Recipe.from_config({**CONFIG, "data": {**CONFIG["data"], "tasks": [{"name": "z"}]}}).single_task(
        "z"
    )
    store.register_run(
        RunInfo("st-z-0", other.fingerprint, "single_task", ("z",), "lora", 0, {}, other.to_dict(), 3002.0)
    )
    store.add_results([ResultRow("st-z-0", other.fingerprint, "z", "acc", 0.3, True, 10, 3003.0)])


def test_transfer_notebook_from_notebooks_folder_with_names_and_a_partial_run(project, monkeypatch):
    store = build_tiny_store(project / "runs" / "results.sqlite")
    add_partial_runs(store)
    monkeypatch.setenv("CRABPLUS_TRANSFER_RUNS", "lora ilora half")  # labels and a run name, as on the CLI
    monkeypatch.setenv("CRABPLUS_BASELINE_RUN", "lora")  # a label: was a KeyError (run ids only)
    text = execute("transfer_analysis.ipynb", project / "notebooks")
    assert "11 runs" in text and "5 multitask run(s) selected" in text  # lora: 2 seeds + the a+b pair
    assert "+6.25% ± 2.95%" in text  # Δm of the two LoRA seeds, as in the tiny store's docstring
    assert "half: skipped" in text  # the partial run is named and skipped, the rest is reported
    assert "| **Δm** |" in text
    assert (project / "runs" / "transfer_notebook" / "comparison.png").is_file()  # beside the found store


def test_transfer_notebook_on_a_store_of_unrelated_runs_only(project):
    store = ResultsStore(project / "runs" / "results.sqlite")
    add_partial_runs(store)
    text = execute("transfer_analysis.ipynb", project / "notebooks")
    assert "half: skipped" in text and "0 recipe(s) reported" in text and "no two-task runs" in text


def test_routing_notebook_finds_the_newest_stats_of_a_named_run(project, monkeypatch):
    write_routing_stats(tiny_rows(), project / "runs" / "r" / "fit" / "routing", step=3, tasks=["ave", "avqa"],
                        modalities=["text"], plot=False)  # fmt: skip
    (project / "runs" / "plain" / "fit").mkdir(parents=True)  # a plain-LoRA run: no routing statistics
    monkeypatch.setenv("CRABPLUS_ROUTING_RUN", "r")
    monkeypatch.setenv("CRABPLUS_NOTEBOOK_OUT", str(project / "figs"))
    text = execute("routing_analysis.ipynb", project / "notebooks")
    assert "'ave': [0.65, 0.35]" in text  # the hand-worked heatmap cell of test_routing_notebook.py
    monkeypatch.setenv("CRABPLUS_ROUTING_RUN", "plain")
    text = execute("routing_analysis.ipynb", project / "notebooks")
    assert "no routing statistics found (run plain" in text
