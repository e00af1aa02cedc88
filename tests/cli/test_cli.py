"""The ``crabplus`` command: help, config errors naming the key, and every shipped config parsing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crabplus.cli import LIGHTNING_SUBCOMMANDS, TOOL_SUBCOMMANDS, main
from crabplus.train.parser_errors import condense_parser_error

ROOT = Path(__file__).resolve().parents[2]
# Fragments layered over a full config are parsed on top of BASE (scale/ has its own tests).
FRAGMENT_DIRS = ("scale", "overlays", "data")
BASE = ROOT / "configs/tiny_modular.yaml"
NOT_LIGHTNING = ("eval_all.yaml",)  # configs/data/ holds synth configs, not Lightning ones


def _run(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crabplus.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.unit
def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in (*LIGHTNING_SUBCOMMANDS, *TOOL_SUBCOMMANDS):
        assert f"  {name}" in out


@pytest.mark.unit
def test_unknown_subcommand_fails(capsys):
    assert main(["fitt"]) == 2
    assert "unknown subcommand 'fitt'" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("max_new_tokens:", "max_new_tokenz:", "model.init_args.max_new_tokenz: unknown key (did you mean 'max_new_tokens'?)"),
        ("max_steps: 60", "max_steps: sixty", "trainer.max_steps: expected int, got 'sixty'"),
        ("adapter: {heads: 3,", "adapter: {heads: three,", "model.init_args.adapter.heads: expected int, got 'three'"),
        ("{name: synth_cls, weight: 1.0}", "{name: synth_cls, weigth: 3.0}", "data.init_args.tasks.weigth: unknown key"),
        ("{name: synth_qa, weight: 1.0}", "{name: synth_qa, evl: false}", "data.init_args.tasks.evl: unknown key"),
        ("{name: synth_qa, weight: 1.0}", "{name: synth_qa, weight: heavy}", "data.init_args.tasks.weight: expected float"),
    ],
    ids=["misspelt_key", "wrong_type", "adapter_wrong_type", "task_weigth", "task_evl", "task_weight_type"],
)
def test_config_error_names_the_key(tmp_path, old, new, named):
    """A mistake in a YAML file fails in one line naming its key path (no usage wall, no union report)."""
    text = (ROOT / "configs/tiny_modular.yaml").read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    proc = _run("fit", "--config", str(bad), "--print_config")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {named}"), proc.stderr[-2000:]
    assert len(lines) <= 2, proc.stderr[-2000:]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("--model.init_args.adapter.hedas=2", "model.init_args.adapter.hedas: unknown key (did you mean 'heads'?)"),
        ("--data.init_args.media.frame_sise=3", "data.init_args.media.frame_sise: unknown key (did you mean 'frame_size'?)"),
        ("--model.init_args.optimizer.lr=fast", "model.init_args.optimizer.lr: expected float, got 'fast'"),
        ("--data.init_args.tasks=[{name: synth_cls, weigth: 3.0}]", "data.init_args.tasks.weigth: unknown key (did you mean 'weight'?)"),
    ],
    ids=["adapter_key", "media_key", "optimizer_type", "task_key"],
)
def test_nested_override_error_names_the_key_path(override, named):
    proc = _run("fit", "--config", str(BASE), override, "--print_config")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"error: {named}",
        "(`--help` lists the options; CRABPLUS_DEBUG=1 shows the parser's full report)",
    ]


NESTED_REPORT = """Parser key "model":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'lightning.pytorch.core.module.LightningModule'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'crabplus.train.AVLLMModule':
        Parser key "adapter":
          Does not validate against any of the Union subtypes
          Subtypes: [<class 'crabplus.lora.config.ILoRAConfig'>, <class 'NoneType'>]
          Errors:
            - Problem with given class_path 'crabplus.lora.ILoRAConfig':
                Option 'hedas' is not accepted
            - Expected a <class 'NoneType'>
          Given value type: <class 'jsonargparse._util.NestedArg'>
          Given value: NestedArg(key='hedas', val='2')
    - Expected a <class 'NoneType'>
  Given value type: <class 'jsonargparse._util.NestedArg'>
  Given value: NestedArg(key='adapter.hedas', val='2')"""


@pytest.mark.unit
def test_condensed_error_walks_the_report_to_the_innermost_key():
    """jsonargparse 4.53's report (copied from a run): a class_path adds init_args, a dataclass does not."""
    assert condense_parser_error(NESTED_REPORT) == "model.init_args.adapter.hedas: unknown key (did you mean 'heads'?)"
    flat = 'Parser key "trainer.max_steps":\n  Expected a <class \'int\'>. Got value: sixty'
    assert condense_parser_error(flat) == "trainer.max_steps: expected int, got 'sixty'"
    assert condense_parser_error("unrecognized arguments: --x 1") == "unrecognized arguments: --x 1"


@pytest.mark.integration
def test_interpolation_sees_command_line_overrides(tmp_path):
    cfg = tmp_path / "interp.yaml"
    text = (ROOT / "configs/tiny_modular.yaml").read_text()
    text = text.replace("run_name: tiny_modular", "run_name: interp_${.trainer.max_steps}")
    cfg.write_text(text)
    proc = _run("fit", "--config", str(cfg), "--trainer.max_steps", "7", "--print_config")
    assert proc.returncode == 0, proc.stderr
    assert "run_name: interp_7" in proc.stdout


def shipped_configs() -> list[Path]:
    configs = sorted(p for p in (ROOT / "configs").rglob("*.yaml"))
    return [
        p for p in configs
        if not any(str(p.relative_to(ROOT / "configs")).startswith(d + "/") for d in FRAGMENT_DIRS)
        and str(p.relative_to(ROOT / "configs")) not in NOT_LIGHTNING
    ]


def test_config_collection_is_not_empty():
    # the parametrised test below would silently pass on an empty list
    assert len(shipped_configs()) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("config", shipped_configs(), ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_shipped_config_parses_with_the_real_cli(config):
    proc = _run("fit", "--config", str(config), "--print_config")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "class_path" in proc.stdout


def overlay_configs() -> list[Path]:
    return sorted((ROOT / "configs/overlays").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("overlay", overlay_configs(), ids=lambda p: p.name)
def test_every_overlay_parses_on_the_base_config(overlay):
    assert overlay_configs()
    proc = _run("fit", "--config", str(BASE), "--config", str(overlay), "--print_config")
    assert proc.returncode == 0, proc.stderr[-2000:]
