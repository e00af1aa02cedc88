"""``crabplus eval-all``: run resolution, derived configs and the table (unit), and the whole command on a tiny
run trained here on a tiny synthetic world (integration).

Independent numbers: the trivial column of synth_cls is checked against the majority share counted straight
from the shards' json labels; the table's run column against the rows read back from the store.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from crabplus.data.cli import main as data_main
from crabplus.data.shards import iter_shard, shard_paths
from crabplus.evaluate.eval_all import (
    TRANSFER_CALLBACK,
    EvalAllConfig,
    EvalAllError,
    RunSpec,
    derive_config,
    load_eval_config,
    main,
    resolve_runs,
)
from crabplus.evaluate.table import RunResult, markdown_table, primary_gains, table_rows
from crabplus.transfer import ResultsStore, recipe_fingerprint
from crabplus.transfer._runner import load_config

TASKS = ("synth_cls", "synth_seg", "synth_loc")


def fake_run(tmp_path: Path, name: str, ckpt: bool = True) -> Path:
    folder = tmp_path / name
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.yaml").write_text("model: {}\n")
    if ckpt:
        (folder / "checkpoints" / "last.ckpt").write_bytes(b"x")
    return folder


# ----- run resolution -------------------------------------------------------------------------------------
@pytest.mark.unit
def test_missing_run_folder_is_named(tmp_path):
    with pytest.raises(EvalAllError, match=r"runs\[1\].*nope does not exist"):
        resolve_runs([str(fake_run(tmp_path, "a")), str(tmp_path / "nope")], "checkpoints/last.ckpt")


@pytest.mark.unit
def test_missing_checkpoint_names_the_run(tmp_path):
    fake_run(tmp_path, "trained")
    fake_run(tmp_path, "untrained", ckpt=False)
    with pytest.raises(
        EvalAllError, match="run 'untrained' has no checkpoint .*untrained/checkpoints/last.ckpt"
    ):
        resolve_runs([str(tmp_path / "*")], "checkpoints/last.ckpt")


@pytest.mark.unit
def test_glob_explicit_entries_and_duplicates(tmp_path):
    fake_run(tmp_path, "demo_a")
    fake_run(tmp_path, "demo_b")
    (tmp_path / "demo_empty").mkdir()  # no config.yaml: not a run, a glob skips it
    specs = resolve_runs([str(tmp_path / "demo_*")], "checkpoints/last.ckpt")
    assert [s.name for s in specs] == ["demo_a", "demo_b"]
    explicit = {
        "name": "b2",
        "config": str(tmp_path / "demo_b/config.yaml"),
        "ckpt_path": str(tmp_path / "demo_b/checkpoints/last.ckpt"),
    }
    assert resolve_runs([explicit], "unused")[0] == RunSpec(
        "b2", Path(explicit["config"]), Path(explicit["ckpt_path"])
    )
    with pytest.raises(EvalAllError, match="'demo_b' is used twice"):
        resolve_runs([str(tmp_path / "demo_*"), {**explicit, "name": "demo_b"}], "checkpoints/last.ckpt")
    with pytest.raises(EvalAllError, match=r"runs\[0\].*matches no run folder"):
        resolve_runs([str(tmp_path / "zzz_*")], "checkpoints/last.ckpt")
    with pytest.raises(EvalAllError, match=r"runs\[0\]: an explicit run needs"):
        resolve_runs([{"config": explicit["config"]}], "unused")


@pytest.mark.unit
def test_config_keys_are_checked(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("runs: [runs/x]\nsplt: val\n")
    with pytest.raises(EvalAllError, match="splt"):
        load_eval_config(path)
    with pytest.raises(EvalAllError, match="'runs' lists no run"):
        load_eval_config(None)
    assert load_eval_config(None, ["runs=[a, b]", "split=val"]).runs == ["a", "b"]


# ----- derived config -------------------------------------------------------------------------------------
SAVED = {
    "trainer": {
        "max_steps": 10,
        "default_root_dir": "runs/x",
        "callbacks": [
            {"class_path": "some.Other", "init_args": {}},
            {"class_path": TRANSFER_CALLBACK, "init_args": {"baseline_overrides": {"k": 1}}},
        ],
    },
    "model": {"class_path": "crabplus.train.AVLLMModule", "init_args": {"preset": "tiny-modular"}},
    "data": {
        "class_path": "crabplus.data.MultiTaskDataModule",
        "init_args": {
            "root": "d",
            "batch_size": 2,
            "tasks": ["synth_cls", {"name": "synth_loc", "weight": 2.0}],
        },
    },
    "run_name": "x",
    "runs_dir": "runs",
    "ckpt_path": None,
}


@pytest.mark.unit
def test_derived_config_redirects_logs_and_keeps_one_transfer_callback():
    spec = RunSpec("x", Path("runs/x/config.yaml"), Path("runs/x/checkpoints/last.ckpt"))
    config = EvalAllConfig(
        runs=["runs/x"],
        tasks=["synth_loc", "synth_qa"],
        split="val",
        store="s.sqlite",
        out="o",
        trainer={"limit_test_batches": 2},
    )
    with pytest.warns(UserWarning, match="synth_qa"):
        derived = derive_config(SAVED, spec, config, "rid", "fp")
    assert (derived["runs_dir"], derived["run_name"], derived["ckpt_path"]) == ("o", "x", str(spec.ckpt_path))
    trainer = derived["trainer"]
    assert trainer["default_root_dir"] is None and trainer["limit_test_batches"] == 2
    assert trainer["enable_checkpointing"] is False
    assert [c["class_path"] for c in trainer["callbacks"]] == ["some.Other", TRANSFER_CALLBACK]
    assert trainer["callbacks"][1]["init_args"] == {
        "baseline_overrides": {"k": 1},
        "store": "s.sqlite",
        "run_id": "rid",
        "fingerprint": "fp",
        "write_files": False,
        "run_name": "x",  # the run is named in reports as in its own fit
    }
    data = derived["data"]["init_args"]
    assert data["test_split"] == "val"
    assert data["tasks"] == [
        {"name": "synth_cls", "eval": False},
        {"name": "synth_loc", "weight": 2.0, "eval": True},
    ]
    assert recipe_fingerprint(derived) == recipe_fingerprint(SAVED)  # eval flags leave the recipe alone
    assert SAVED["trainer"]["default_root_dir"] == "runs/x"  # the saved config is not mutated
    with pytest.raises(EvalAllError, match="run 'x': none of tasks"), pytest.warns(UserWarning):
        derive_config(SAVED, spec, EvalAllConfig(runs=["x"], tasks=["synth_qa"]), "rid", None)


# ----- table ------------------------------------------------------------------------------------------------
@pytest.mark.unit
def test_table_markdown_and_primary_metric_summary():
    a = RunResult(
        "a",
        "ra",
        60,
        {"synth_cls": {"accuracy": 0.9, "weighted_f1": 0.8}},
        {"synth_cls/accuracy": True, "synth_cls/weighted_f1": True},
        {"synth_cls": {"accuracy": 0.2, "weighted_f1": 0.1}, "synth_loc": {"segment_accuracy": 0.3}},
    )
    b = RunResult(
        "b", "rb", None, {"synth_cls": {"accuracy": 0.1}, "synth_loc": {"segment_accuracy": 0.5}}, {}, {}
    )
    header, rows = table_rows([a, b])
    assert header == ["task", "metric", "higher_is_better", "a", "b", "trivial"]
    assert rows == [
        ["synth_cls", "accuracy", True, 0.9, 0.1, 0.2],
        ["synth_cls", "weighted_f1", True, 0.8, None, 0.1],
        ["synth_loc", "segment_accuracy", True, None, 0.5, 0.3],
    ]
    text = markdown_table([a, b])
    assert "| task | metric | higher_is_better | a (step 60) | b | trivial |" in text
    assert "| synth_cls | weighted_f1 | ↑ | 0.8000 | – | 0.1000 |" in text
    assert (
        "- a: primary metric above the trivial baseline by more than 0 on 1/1 tasks (synth_cls +0.7000)"
        in text
    )
    assert "- b: primary metric above the trivial baseline by more than 0 on 1/2 tasks" in text
    assert "by more than 0.25 on 0/2 tasks (synth_cls -0.1000, synth_loc +0.2000)" in markdown_table(
        [a, b], 0.25
    )


@pytest.mark.unit
def test_a_float32_tie_with_the_baseline_does_not_beat_it():
    tie = RunResult("tie", "r", None, {"synth_cls": {"accuracy": float(np.float32(0.2))}}, {}, {})
    base = RunResult("base", "r0", None, {}, {}, {"synth_cls": {"accuracy": 0.2}})
    assert float(np.float32(0.2)) > 0.2
    assert primary_gains([base, tie])["tie"]["synth_cls"] == pytest.approx(0.0, abs=1e-7)
    assert "on 0/1 tasks" in markdown_table([base, tie])


# ----- the whole command on a tiny trained run ------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-step tiny-modular run on 3 synthetic tasks (4 train / 2 val / 3 test samples each)."""
    from crabplus.cli import run_lightning

    root = tmp_path_factory.mktemp("eval_all")
    synth = root / "synth.yaml"
    synth.write_text(
        yaml.safe_dump(
            {
                "maxcount": 8,
                "splits": {"train": 4, "val": 2, "test": 3},
                "world": {"num_classes": 8, "duration_s": 4.0, "fps": 4, "frame_size": 32},
                "tasks": {t: {} for t in TASKS},
            }
        )
    )
    assert data_main(["synth", "--out", str(root / "data"), "--config", str(synth)]) == 0
    config = {
        "seed_everything": 0,
        "run_name": "tiny",
        "runs_dir": str(root / "runs"),
        "trainer": {
            "accelerator": "cpu",
            "max_steps": 2,
            "limit_val_batches": 0,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "log_every_n_steps": 1,
        },
        "model": {
            "class_path": "crabplus.train.AVLLMModule",
            "init_args": {
                "preset": "tiny-modular",
                "adapter": {"heads": 2, "rank": 4, "alpha": 8},
                "max_new_tokens": 12,
            },
        },
        "data": {
            "class_path": "crabplus.data.MultiTaskDataModule",
            "init_args": {
                "root": str(root / "data"),
                "batch_size": 2,
                "num_workers": 0,
                "media": {"num_frames": 4, "frame_size": 32, "n_mels": 64, "clip_seconds": 4.0},
                "tasks": list(TASKS),
            },
        },
    }
    (root / "fit.yaml").write_text(yaml.safe_dump(config))
    run_lightning(["fit", "--config", str(root / "fit.yaml")])
    run = root / "runs" / "tiny"
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "fit" / "config.yaml").is_file()
    return root


def majority_share(root: Path, task: str, split: str) -> float:
    labels = [
        json.loads(raw["json"])["target"]["label"]
        for path in shard_paths(root, task, split)
        for raw in iter_shard(path)
    ]
    return Counter(labels).most_common(1)[0][1] / len(labels)


@pytest.mark.integration
@pytest.mark.slow
def test_eval_all_writes_rows_for_every_task_and_the_tables(tiny_run, tmp_path, capsys):
    run = tiny_run / "runs" / "tiny"
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    store_path, out = tmp_path / "results.sqlite", tmp_path / "eval"
    cfg = tmp_path / "eval_all.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "runs": [str(tiny_run / "runs" / "t*")],
                "store": str(store_path),
                "out": str(out),
                "trainer": {"enable_progress_bar": False},
            }
        )
    )
    assert main(["--config", str(cfg)]) == 0
    printed = capsys.readouterr().out

    store = ResultsStore(store_path)
    (info,) = store.runs()
    assert info.run_id.startswith("eval-tiny-") and info.fingerprint == recipe_fingerprint(
        load_config(run / "fit" / "config.yaml")
    )
    rows = store.rows(run_id=info.run_id, split="test")
    assert {r.task for r in rows} == set(TASKS)
    assert {(r.task, r.metric) for r in rows} >= {
        ("synth_cls", "accuracy"),
        ("synth_seg", "j"),
        ("synth_loc", "segment_accuracy"),
    }
    assert all(r.higher_is_better for r in rows)

    with (out / "eval_all.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["task", "metric", "higher_is_better", "tiny", "trivial"]
    stored = {(r.task, r.metric): r.value for r in rows}
    assert {(t["task"], t["metric"]): float(t["tiny"]) for t in table} == pytest.approx(stored)
    cls = next(t for t in table if (t["task"], t["metric"]) == ("synth_cls", "accuracy"))
    assert float(cls["trivial"]) == pytest.approx(majority_share(tiny_run / "data", "synth_cls", "test"))
    markdown = (out / "eval_all.md").read_text()
    assert "| tiny (step 2) |" in markdown and markdown.strip() in printed
    assert (out / "configs" / "tiny.yaml").is_file()
    assert not (out / "results.sqlite").exists()  # the CLI added no second results writer (its default store)
    after = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    assert after == before  # the evaluated run's own files are left alone


@pytest.mark.integration
def test_bad_config_errors_name_the_run(tmp_path, capsys):
    fake_run(tmp_path, "half_trained", ckpt=False)
    assert main([f"runs=[{tmp_path / 'missing_run'}]", f"out={tmp_path / 'o'}"]) == 2
    assert "missing_run does not exist" in capsys.readouterr().err
    assert main([f"runs=[{tmp_path / 'half_trained'}]", f"out={tmp_path / 'o'}"]) == 2
    assert "run 'half_trained' has no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # checked before anything is evaluated or written


@pytest.mark.unit
def test_shipped_config_parses():
    config = load_eval_config(Path(__file__).parents[2] / "configs" / "eval_all.yaml")
    assert (
        config.runs == ["runs/demo_lora", "runs/demo_lora_matched", "runs/demo_ilora"]
        and config.store == "runs/results.sqlite"
    )
    assert config.margin > 0 and config.trainer == {"devices": 1}
