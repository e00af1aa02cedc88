"""`make demo`: the embedded transfer study on the synthetic audio-visual world.

Steps, each a plain crabplus command (printed before it runs, so the study can be re-run by hand):
1. synthesise the world's shards for every task family (skipped when they exist);
2. single-task baselines for every task, derived from the plain-LoRA multitask config with the same
   model, adapter, optimizer and per-task sample budget (`crabplus transfer baselines`);
3. three multitask runs (`crabplus fit`): plain LoRA of the I-LoRA's rank, the plain LoRA whose trainable
   count matches I-LoRA's (`crabplus transfer matched`, rank chosen and printed), and I-LoRA;
4. every trained model on the test split beside each task's trivial baseline (`crabplus eval-all`, which
   also stores every test item), then the comparison report against the same baselines (`crabplus transfer
   report`: per task Δ_t with its 95 % paired bootstrap interval and verdict, Δm with its interval, positive
   share raw and significant), printed with the paths of its PNGs. A full run writes the report into
   docs/demo_results.md (the README links it); ``--fast`` never touches docs/.

Every run pins its seed, ``threads: 1`` and ``data.stream_slots``: two demos give byte-identical reports.

Usage: python tools/demo.py [--fast] [--jobs 2] [--runs-dir runs] [--data data/synth_demo]
``--fast`` shrinks every budget (for a smoke test of the pipeline, not for numbers). ``--jobs`` runs that
many training runs at once, each on one thread: one tiny run cannot keep two cores busy.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"lora": "configs/demo/multitask_lora.yaml", "ilora": "configs/demo/multitask_ilora.yaml"}
RUN_NAMES = {"lora": "demo_lora", "matched": "demo_lora_matched", "ilora": "demo_ilora"}
RESULTS_DOC = "docs/demo_results.md"
WORLD = "configs/data/synth_demo.yaml"
FAST_SPLITS = {"train": 48, "val": 8, "test": 8}


def run(args: list[str], env: dict[str, str]) -> None:
    """Run one crabplus command, echoing it; stop the demo on failure."""
    print(f"\n$ {shlex.join(args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, env=env)
    if proc.returncode != 0:
        sys.exit(f"demo: step failed with exit code {proc.returncode}: {shlex.join(args)}")
    print(f"[{time.perf_counter() - started:.0f} s]", flush=True)


def run_together(commands: list[list[str]], env: dict[str, str]) -> None:
    """Run crabplus commands at the same time (each echoed); stop the demo if any fails."""
    for args in commands:
        print(f"\n$ {shlex.join(args)} &", flush=True)
    started = time.perf_counter()
    procs = [subprocess.Popen(args, cwd=ROOT, env=env) for args in commands]
    codes = [proc.wait() for proc in procs]
    for args, code in zip(commands, codes):
        if code != 0:
            sys.exit(f"demo: step failed with exit code {code}: {shlex.join(args)}")
    print(f"[{time.perf_counter() - started:.0f} s]", flush=True)


def data_is_current(data: str, fast: bool) -> bool:
    """Shards exist for every task of the demo world, carry its version and the test split's size (a
    ``--fast`` world is not reused by a full run, nor the other way round); else they are regenerated."""
    world = yaml.safe_load((ROOT / WORLD).read_text())
    test_size = FAST_SPLITS["test"] if fast else world["splits"]["test"]
    for task in world["tasks"]:
        index = ROOT / data / task / "test" / "index.json"
        if not index.exists():
            return False
        found = json.loads(index.read_text())
        if found.get("version") != world["version"] or found.get("num_samples") != test_size:
            print(f"demo: {index} is from another version or size of the demo world; regenerating {data}")
            return False
    return True


def fast_split_overrides() -> list[str]:
    """``--fast`` split sizes for every split, including the demo world's per-task ones."""
    world = yaml.safe_load((ROOT / WORLD).read_text())
    out = [f"splits.{k}={v}" for k, v in FAST_SPLITS.items()]
    for task, entry in world["tasks"].items():
        out += [f"tasks.{task}.splits.{k}={FAST_SPLITS[k]}" for k in ((entry or {}).get("splits") or {})]
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast", action="store_true", help="tiny budgets: checks the pipeline, not the numbers"
    )
    parser.add_argument("--runs-dir", default="runs", help="where runs, the results store and reports go")
    parser.add_argument("--data", default="data/synth_demo", help="synthetic shards (generated when missing)")
    parser.add_argument(
        "--jobs", type=int, default=2, help="training runs at once, one thread each (default 2)"
    )
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> list[str]:
    """Command-line overrides shared by every training command of the study."""
    common = [f"--runs_dir={args.runs_dir}", f"--data.init_args.root={args.data}"]
    if args.fast:
        common += [
            "--trainer.max_steps=16",
            "--trainer.val_check_interval=16",
            "--trainer.limit_val_batches=1",
            "--trainer.limit_test_batches=1",
            "--model.init_args.max_new_tokens=8",
        ]
    return common


def resolve(config: str, extra: list[str], out: Path, env: dict[str, str]) -> str:
    """The config with the study's overrides applied, fully resolved, written under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / Path(config).name
    args = [sys.executable, "-m", "crabplus.cli", "fit", "--config", config, *extra, "--print_config"]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"demo: cannot resolve {config}:\n{proc.stderr[-2000:]}")
    target.write_text(proc.stdout)
    return str(target)


def write_results_doc(comparison: Path, out: Path) -> None:
    """docs/demo_results.md: the demo's comparison table with what it rests on and how to read it."""
    world = yaml.safe_load((ROOT / WORLD).read_text())
    table = comparison.read_text(encoding="utf-8").split("\n", 1)[1].strip()  # without its own title
    out.write_text(
        "# Demo results\n\n"
        "Written by `make demo` (tools/demo.py) from `runs/demo_report/comparison.md`; do not edit by hand.\n\n"
        f"Synthetic world {world['version']!r}, {world['splits']['test']} test clips per task, one seed per run "
        "(seed 0). Columns are runs: `demo_lora` (plain LoRA, the I-LoRA's rank), `demo_lora_matched` (plain "
        "LoRA with I-LoRA's trainable parameter count), `demo_ilora` (I-LoRA); every one is compared with the "
        "same single-task plain-LoRA baselines.\n\n"
        "A cell is the task's relative change Δ_t against its single-task baseline, its 95 % paired bootstrap "
        "interval over the test clips, and the verdict: **positive** or **negative** when the interval excludes "
        "0, *inconclusive* when it holds 0 (the test set is too small to tell the change from chance).\n\n"
        f"{table}\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.jobs > 1:
        env.setdefault("OMP_NUM_THREADS", "1")
    crabplus = [sys.executable, "-m", "crabplus.cli"]
    runs = Path(args.runs_dir)
    store = str(runs / "results.sqlite")
    if not data_is_current(args.data, args.fast):
        splits = fast_split_overrides() if args.fast else []
        run(
            [*crabplus, "data", "synth", "--out", args.data, "--config", WORLD, *splits, "--workers", "2"],
            env,
        )
    configs = {v: resolve(c, overrides(args), runs / "demo_configs", env) for v, c in CONFIGS.items()}
    configs["matched"] = str(runs / "demo_configs" / "multitask_lora_matched.yaml")
    run(
        [
            *crabplus,
            "transfer",
            "matched",
            "--config",
            configs["ilora"],
            "--out",
            configs["matched"],
            "--run-name",
            RUN_NAMES["matched"],
            "--no-resolve",
        ],
        env,
    )
    run(
        [
            *crabplus,
            "transfer",
            "baselines",
            "--config",
            configs["lora"],
            "--test",
            "--store",
            store,
            "--out-dir",
            str(runs / "baselines"),
            "--jobs",
            str(args.jobs),
        ],
        env,
    )
    fits = [[*crabplus, "fit", "--config", configs[v]] for v in RUN_NAMES]
    for first in range(0, len(fits), max(1, args.jobs)):
        batch = fits[first : first + max(1, args.jobs)]
        if len(batch) > 1:
            run_together(batch, env)
        else:
            run(batch[0], env)
    names = [RUN_NAMES[v] for v in RUN_NAMES]
    run(
        [
            *crabplus,
            "eval-all",
            "--config",
            "configs/eval_all.yaml",
            f"store={store}",
            "runs=[" + ", ".join(f"{runs}/{n}" for n in names) + "]",
            f"out={runs}/eval_all",
        ],
        env,
    )
    report = runs / "demo_report"
    run(
        [
            *crabplus,
            "transfer",
            "report",
            *names,
            "--baseline-from",
            RUN_NAMES["lora"],
            "--split",
            "test",
            "--store",
            store,
            "--out",
            str(report),
        ],
        env,
    )
    if not args.fast:
        write_results_doc(report / "comparison.md", ROOT / RESULTS_DOC)
        print(f"wrote {RESULTS_DOC}")
    print(f"\ndemo finished in {(time.perf_counter() - started) / 60:.1f} min")
    print(
        f"transfer report: {report}/ (markdown, CSV and the PNG bar charts: "
        f"{', '.join(str(p) for p in sorted(report.glob('*.png')))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
