"""Baseline planning and launching: skip what the store holds, write derived YAMLs, run/print commands."""

import pytest
import yaml
from tests.transfer.tiny_store import CONFIG, build_tiny_store

from crabplus.transfer import Recipe, ResultsStore
from crabplus.transfer._runner import execute, load_config, plan_runs
from crabplus.transfer.cli import main


@pytest.mark.integration
def test_plan_skips_baselines_in_store(tmp_path):
    store = build_tiny_store(tmp_path / "r.sqlite")
    plans = plan_runs(CONFIG, [["a"], ["b"], ["c"]], store, tmp_path / "bl", seeds=[0, 1], launcher=["cp+"])
    done = {(p.tasks[0], p.seed): p.done for p in plans}
    assert done == {
        ("a", 0): True,
        ("a", 1): False,
        ("b", 0): True,
        ("b", 1): False,
        ("c", 0): True,
        ("c", 1): True,
    }
    calls = []
    assert execute(plans, echo=lambda _: None, run=lambda cmd: calls.append(cmd) or 0) == 0
    assert len(calls) == 2
    assert (
        execute(plans, echo=lambda _: None, run=lambda cmd: 1) == 2
    )  # failures counted, none stops the rest
    (a1,) = [p for p in plans if p.tasks == ["a"] and p.seed == 1]
    assert calls[0] == ["cp+", "fit", "--config", str(a1.config_path)]
    written = load_config(a1.config_path)
    assert written["trainer"]["max_steps"] == 10 and written["seed_everything"] == 1
    assert Recipe.from_config(written).fingerprint == Recipe.from_config(CONFIG).single_task("a").fingerprint


@pytest.mark.unit
def test_test_step_uses_checkpoint(tmp_path):
    (plan,) = plan_runs(
        CONFIG, [["a"]], ResultsStore(tmp_path / "r.sqlite"), tmp_path / "bl", test=True, launcher=["cp"]
    )
    assert plan.commands[1] == [
        "cp",
        "test",
        "--config",
        str(plan.config_path),
        "--ckpt_path",
        str(plan.run_dir / "checkpoints" / "last.ckpt"),
    ]
    callbacks = plan.config["trainer"]["callbacks"]
    assert callbacks[-1]["init_args"]["dirpath"] == str(plan.run_dir / "checkpoints")


@pytest.mark.integration
def test_cli_baselines_dry_run(tmp_path, capsys):
    config = tmp_path / "multitask.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    store = build_tiny_store(tmp_path / "r.sqlite")
    code = main(
        [
            "baselines",
            "--config",
            str(config),
            "--store",
            str(store.path),
            "--out-dir",
            str(tmp_path / "bl"),
            "--seeds",
            "0",
            "1",
            "--dry-run",
            "--launcher",
            "crabplus",
            "--no-resolve",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("# in store:") == 4 and out.count("# missing:") == 2
    assert out.count("crabplus fit --config") == 2
    assert len(list((tmp_path / "bl").glob("*/config.yaml"))) == 2


@pytest.mark.integration
def test_resolve_config_prefers_the_cli_and_falls_back(tmp_path, capsys):
    import sys

    from crabplus.transfer._runner import resolve_config

    raw = tmp_path / "raw.yaml"
    raw.write_text("model: {preset: raw}\n")
    printer = [
        sys.executable,
        "-c",
        "import sys; assert sys.argv[1:] == ['fit', '--config', sys.argv[3], "
        "'--print_config']; print('model: {preset: resolved, optimizer: {lr: 0.1}}')",
    ]
    assert resolve_config(raw, printer) == {"model": {"preset": "resolved", "optimizer": {"lr": 0.1}}}
    assert resolve_config(raw, [sys.executable, "-c", "raise SystemExit(3)"]) == {"model": {"preset": "raw"}}
    assert "using the raw YAML" in capsys.readouterr().err


@pytest.mark.integration
def test_parallel_jobs_run_every_chain_in_order(tmp_path):
    """jobs=3: every missing run's fit precedes its own test; failures are still counted per run."""
    store = build_tiny_store(tmp_path / "r.sqlite")
    plans = plan_runs(
        CONFIG, [["a"], ["b"], ["c"]], store, tmp_path / "bl", seeds=[1, 2], test=True, launcher=["cp+"]
    )
    calls: list[list[str]] = []
    assert execute(plans, echo=lambda _: None, run=lambda cmd: calls.append(cmd) or 0, jobs=3) == 0
    missing = [p for p in plans if not p.done]
    assert len(calls) == 2 * len(missing) and len(missing) >= 3
    for plan in missing:
        fit = calls.index(plan.commands[0])
        assert plan.commands[1][1] == "test" and calls.index(plan.commands[1]) > fit
    fails_b = lambda cmd: 1 if "/b-" in cmd[3] else 0  # noqa: E731
    assert execute(plans, echo=lambda _: None, run=fails_b, jobs=2) == sum(p.tasks == ["b"] for p in missing)
    with pytest.raises(ValueError, match="jobs"):
        execute(plans, jobs=0)


@pytest.mark.integration
def test_parallel_runs_print_whole_lines_prefixed_with_their_run(tmp_path, capsys):
    """``--jobs 2``: two runs print at the same time; every line arrives whole, under its run's name."""
    import sys

    script = "import sys, time\nfor i in range(5):\n    print('line', i, 'of', sys.argv[1], flush=True); time.sleep(0.02)"
    plans = plan_runs(CONFIG, [["a"], ["b"]], ResultsStore(tmp_path / "r.sqlite"), tmp_path / "bl",
                      launcher=[sys.executable, "-c", script])  # fmt: skip
    assert execute(plans, echo=lambda _: None, jobs=2) == 0
    lines = capsys.readouterr().out.splitlines()
    names = {p.run_dir.name for p in plans}
    assert len(lines) == 10
    for line in lines:
        prefix, _, text = line.partition("] ")
        assert prefix[1:] in names and text.startswith("line ") and text.endswith(" of fit")
    assert {line.partition("]")[0][1:] for line in lines} == names
