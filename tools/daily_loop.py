"""The researcher's daily loop on small data, as plain ``crabplus`` commands, checked end to end.

synth → fit (stopped after 4 of its 8 steps, as a preempted job) → test → resume to 8 steps → predict → single-task baselines → transfer report by
run name → the transfer notebook. After every step it records the files each command wrote into the runs
folder (logs, configs, reports, predictions; checkpoints and the results store are state, not logs) and at
the end checks that every one of them is still there, unchanged, that the predictions hold one row per
test item and that neither the report nor the notebook prints ``nan``.

Usage: python tools/daily_loop.py [--workdir DIR] (a temporary folder otherwise). CI runs it through
tests/test_daily_loop.py. Takes about 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN = "loop_mt"
TASKS = ["synth_cls", "synth_loc"]
SPLITS = {"train": 12, "val": 4, "test": 4}


class LoopError(RuntimeError):
    """A step failed or a check did not hold; the message names which."""


def world_config() -> dict:
    return {
        "maxcount": 4,
        "splits": dict(SPLITS),
        "world": {"num_classes": 4, "duration_s": 4.0, "fps": 4, "frame_size": 32},
        "tasks": {t: {} for t in TASKS},
    }


def run_config(data: Path, runs: Path) -> dict:
    """Tiny-modular with plain LoRA on two tasks: 8 steps, validation every 4, a checkpoint every 4."""
    return {
        "seed_everything": 0, "run_name": RUN, "runs_dir": str(runs), "checkpoint_every_n_steps": 4,
        "trainer": {
            "accelerator": "cpu", "max_steps": 8, "val_check_interval": 4, "check_val_every_n_epoch": None,
            "limit_val_batches": 2, "num_sanity_val_steps": 0, "log_every_n_steps": 1,
            "enable_progress_bar": False, "enable_model_summary": False,
        },
        "model": {"class_path": "crabplus.train.AVLLMModule", "init_args": {
            "preset": "tiny-modular", "variant": "lora", "adapter": {"heads": 1, "rank": 4, "alpha": 8},
            "optimizer": {"lr": 3.0e-3, "warmup_ratio": 0.0}, "max_new_tokens": 8}},
        "data": {"class_path": "crabplus.data.MultiTaskDataModule", "init_args": {
            "root": str(data), "batch_size": 2, "num_workers": 0, "tasks": list(TASKS),
            "media": {"num_frames": 4, "frame_size": 32, "n_mels": 64, "clip_seconds": 4.0}}},
    }  # fmt: skip


def files_of(runs: Path) -> dict[str, str]:
    """sha256 of every log-like file under ``runs`` (checkpoints and the results store excluded)."""
    out = {}
    for path in sorted(runs.rglob("*")):
        if path.is_file() and "checkpoints" not in path.parts and not path.name.startswith("results.sqlite"):
            out[str(path.relative_to(runs))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class Loop:
    def __init__(self, workdir: Path, log=print) -> None:
        self.workdir, self.log = workdir, log
        self.data, self.runs = workdir / "data", workdir / "runs"
        self.config = workdir / "loop.yaml"
        self.store = self.runs / "results.sqlite"
        self.crabplus = [sys.executable, "-m", "crabplus.cli"]
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        # tools/ importable in the crabplus processes: the interruption callback lives there
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "tools"), os.environ.get("PYTHONPATH")) if p
        )
        self.written: dict[str, dict[str, str]] = {}  # step -> files that existed after it

    def sh(self, step: str, args: list[str], **kwargs) -> str:
        self.log(f"\n[{step}] $ {shlex.join(args)}")
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, text=True, **kwargs)
        if proc.returncode != 0:
            raise LoopError(
                f"step {step} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        self.log(f"[{step}] {time.perf_counter() - started:.0f} s")
        self.written[step] = files_of(self.runs) if self.runs.exists() else {}
        return proc.stdout

    def fit_args(self, *extra: str) -> list[str]:
        return [*self.crabplus, "fit", "--config", str(self.config), *extra]

    def run(self) -> dict[str, object]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "world.yaml").write_text(yaml.safe_dump(world_config()))
        self.config.write_text(yaml.safe_dump(run_config(self.data, self.runs), sort_keys=False))
        interrupt = self.workdir / "interrupt.yaml"
        stop = {"class_path": "loop_interrupt.StopAtStep", "init_args": {"step": 4}}
        interrupt.write_text(yaml.safe_dump({"trainer": {"callbacks": [stop]}}))
        ckpt = str(self.runs / RUN / "checkpoints" / "last.ckpt")
        self.sh(
            "synth",
            [
                *self.crabplus,
                "data",
                "synth",
                "--out",
                str(self.data),
                "--config",
                str(self.workdir / "world.yaml"),
            ],
        )
        self.sh("fit", self.fit_args("--config", str(interrupt)))
        self.sh("test", [*self.crabplus, "test", "--config", str(self.config), "--ckpt_path", ckpt])
        self.sh("resume", self.fit_args("--ckpt_path", ckpt))
        self.sh("predict", [*self.crabplus, "predict", "--config", str(self.config), "--ckpt_path", ckpt])
        launcher = f"{shlex.quote(sys.executable)} -m crabplus.cli"
        self.sh("baselines", [*self.crabplus, "transfer", "baselines", "--config", str(self.config), "--test",
                              "--store", str(self.store), "--out-dir", str(self.runs / "baselines"),
                              "--launcher", launcher])  # fmt: skip
        report = self.sh("report", [*self.crabplus, "transfer", "report", RUN, "--store", str(self.store),
                                    "--out", str(self.runs / "report")])  # fmt: skip
        notebook = self.notebook()
        return self.check(report, notebook)

    def notebook(self) -> str:
        """Execute the transfer notebook from a ``notebooks/`` folder beside ``runs/`` (no store path given)."""
        import nbformat
        from nbclient import NotebookClient

        cwd = self.workdir / "notebooks"
        cwd.mkdir(exist_ok=True)
        self.log("\n[notebook] notebooks/transfer_analysis.ipynb")
        nb = nbformat.read(ROOT / "notebooks" / "transfer_analysis.ipynb", as_version=4)
        saved = {k: os.environ.get(k) for k in ("CRABPLUS_TRANSFER_RUNS", "CRABPLUS_RESULTS_STORE")}
        os.environ["CRABPLUS_TRANSFER_RUNS"] = RUN
        os.environ.pop("CRABPLUS_RESULTS_STORE", None)
        try:
            NotebookClient(
                nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
            ).execute()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        nbformat.write(nb, cwd / "transfer_analysis.executed.ipynb")
        texts = []
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                texts += [output.get("text", ""), output.get("data", {}).get("text/markdown", "")]
        self.written["notebook"] = files_of(self.runs)
        return "\n".join(texts)

    def check(self, report: str, notebook: str) -> dict[str, object]:
        final = files_of(self.runs)
        for step, files in self.written.items():
            changed = sorted(name for name, digest in files.items() if final.get(name) != digest)
            if changed:
                raise LoopError(f"files written by step {step!r} and earlier changed or vanished: {changed}")
        folders, rows = self.check_run_folder()
        for where, text in (("report", report), ("notebook", notebook)):
            if "nan" in text.lower():
                raise LoopError(f"the {where} prints nan:\n{text[-3000:]}")
        if "Δm" not in report or RUN not in report:
            raise LoopError(f"the report does not name {RUN} or has no Δm:\n{report[-3000:]}")
        if "no interval" in report:  # both sides stored their test items: every task gets its interval
            raise LoopError(f"the report lacks bootstrap intervals:\n{report[-3000:]}")
        if "1 recipe(s) reported" not in notebook:
            raise LoopError(f"the notebook did not report {RUN}:\n{notebook[-3000:]}")
        self.log(f"\nall {len(final)} files of {len(self.written)} steps present and unchanged; no nan")
        return {"files": len(final), "folders": folders, "predictions": len(rows), "report": report}

    def check_run_folder(self) -> tuple[list[str], list[dict]]:
        """One folder per command with its config and log; the predictions of every test item."""
        run = self.runs / RUN
        folders = sorted(p.name for p in run.iterdir() if p.is_dir())
        expected = {"fit", "checkpoints"}
        if not expected <= set(folders) or not [f for f in folders if f.startswith("fit-")]:
            raise LoopError(
                f"{run}: expected fit/, fit-<time>/ (the resume) and checkpoints/, found {folders}"
            )
        for stage in ("test", "predict"):
            if not [f for f in folders if f.startswith(f"{stage}-")]:
                raise LoopError(f"{run}: no {stage}-<time>/ folder, found {folders}")
        for folder in [f for f in folders if f != "checkpoints"]:
            # predict logs no metric: its log is the predictions file
            needed = ("config.yaml", "predictions.jsonl" if folder.startswith("predict") else "metrics.csv")
            for name in needed:
                if not (run / folder / name).is_file():
                    raise LoopError(f"{run / folder} has no {name}")
        predict = next(run / f for f in folders if f.startswith("predict-"))
        rows = [json.loads(line) for line in (predict / "predictions.jsonl").read_text().splitlines()]
        if len(rows) != SPLITS["test"] * len(TASKS):
            raise LoopError(
                f"{predict}/predictions.jsonl has {len(rows)} rows, expected {SPLITS['test'] * len(TASKS)}"
            )
        return folders, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, default=None, help="kept when given; a temporary folder otherwise"
    )
    args = parser.parse_args(argv)
    try:
        if args.workdir is not None:
            Loop(args.workdir).run()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                Loop(Path(tmp)).run()
    except LoopError as err:
        print(f"daily loop: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
