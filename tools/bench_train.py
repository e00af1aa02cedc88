"""Where a training step goes, old paths against new, measured side by side in one run.

Two copies of the same module (same seed, same weights) train on the same batches, one with the new
paths off (``logits=all``: the LM head over every position; ``feature_cache_mb=0``: frozen encoders run
on every visit; ``length_groups=1``: one LM call over the whole padded batch; ``dropout_draw=bernoulli``:
``F.dropout`` in the adapters) and one with them on (the defaults: LM head at answer positions only,
frozen-encoder feature cache, LM calls per length group, adapter dropout from 16-bit lanes). Their steps alternate (old first on even steps, new first on odd ones), so a loaded machine
slows both alike. Per step: data wait (the loader's ``next``, shared by both copies), media (encoders and
connectors, with the cache where on), LM forward (splice, LM, loss), backward, optimizer; the share of
padding tokens per batch; real (non-pad) tokens per second. Evaluation: greedy generation per sample on
the validation split and evaluation samples per second (loss forward + generation, as ``crabplus test``).

Usage: python tools/bench_train.py [--config configs/demo/multitask_ilora.yaml] [--preset NAME]
       [--data DIR] [--steps 40] [--warmup 30] [--workers N] [--eval-batches 6]
Without ``--data`` a small copy of the demo world is synthesised in a temp dir (about a minute).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORLD = "configs/data/synth_demo.yaml"
SMALL_WORLD = ["splits.train=32", "splits.val=8", "splits.test=0", "tasks.synth_match.splits.train=32"]
MODES = ("old", "new")
OLD_PATHS = {"logits": "all", "feature_cache_mb": 0.0, "length_groups": 1, "dropout_draw": "bernoulli"}


def synthesise(out: Path) -> None:
    """A small copy of the demo world (every task) for the benchmark."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "crabplus.cli", "data", "synth", "--out", str(out), "--config", WORLD]
    subprocess.run([*args, *SMALL_WORLD], cwd=ROOT, env=env, check=True, capture_output=True)


def build(config: dict, args: argparse.Namespace, data_root: str):
    """(modules {mode: AVLLMModule}, datamodule) from a fit config, each module from the same seed."""
    from crabplus.data import MultiTaskDataModule
    from crabplus.data.sample import MediaSpec
    from crabplus.train import AVLLMModule

    model_args = dict(config["model"]["init_args"])
    if args.preset:
        model_args["preset"] = args.preset
    modules = {}
    for mode in MODES:
        torch.manual_seed(int(config.get("seed_everything", 0)))
        modules[mode] = AVLLMModule(**model_args, **(OLD_PATHS if mode == "old" else {}))
    data_args = dict(config["data"]["init_args"])
    data_args["media"] = MediaSpec(**data_args.get("media", {}))
    data_args["root"] = data_root
    if args.workers is not None:
        data_args["num_workers"] = args.workers
    datamodule = MultiTaskDataModule(**data_args)
    datamodule.setup("fit")
    return modules, datamodule


class Clock:
    """Seconds per (mode, part), summed over the measured steps."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.counts: dict[tuple[str, str], float] = defaultdict(float)
        self.on = False
        self.part_prefix = ""  # "eval " while evaluating

    def add(self, mode: str, part: str, seconds: float) -> None:
        if self.on:
            self.seconds[mode, part] += seconds

    def count(self, mode: str, what: str, n: float) -> None:
        if self.on:
            self.counts[mode, what] += n


def time_media(module, mode: str, clock: Clock) -> None:
    """Wrap the model's ``encode_media`` so its time is booked as the step's media part."""
    inner = module.model.encode_media

    def timed(*a, **k):
        start = time.perf_counter()
        out = inner(*a, **k)
        clock.add(mode, clock.part_prefix + "media", time.perf_counter() - start)
        return out

    module.model.encode_media = timed


def train_step(module, optimizer, batch: dict, mode: str, clock: Clock) -> None:
    from crabplus.model import length_groups

    clock.part_prefix = ""
    start = time.perf_counter()
    output = module.forward(batch)
    loss = output.loss
    forward = time.perf_counter()
    loss.backward()
    backward = time.perf_counter()
    torch.nn.utils.clip_grad_norm_([p for p in module.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    done = time.perf_counter()
    clock.add(mode, "forward", forward - start)
    clock.add(mode, "backward", backward - forward)
    clock.add(mode, "optimizer", done - backward)
    mask = output.attention_mask  # (B, L') of the whole spliced batch
    lengths = mask.sum(1).tolist()
    groups = (
        length_groups(lengths, module.hparams.get("length_groups", 1)) if output.logits is None else [lengths]
    )
    groups = [[lengths[i] for i in g] for g in groups] if output.logits is None else groups
    clock.count(mode, "tokens", float(sum(len(g) * max(g) for g in groups)))  # what the LM calls ran
    clock.count(mode, "real", float(sum(lengths)))
    clock.count(mode, "steps", 1.0)


def eval_batch(module, batch: dict, mode: str, clock: Clock) -> None:
    clock.part_prefix = "eval "
    start = time.perf_counter()
    with torch.no_grad():
        module.forward(batch)
        generate = time.perf_counter()
        module.generate_batch(batch)
    done = time.perf_counter()
    clock.add(mode, "eval loss", generate - start)
    clock.add(mode, "eval generation", done - generate)
    clock.count(mode, "eval samples", float(len(batch["prompt"])))


def run(modules: dict, datamodule, steps: int, warmup: int, eval_batches: int) -> Clock:
    from crabplus.train.optim import build_optimizer

    clock = Clock()
    for mode, module in modules.items():
        time_media(module, mode, clock)
        module.train()
    optimizers = {
        m: build_optimizer(mod.model.parameters(), mod.optimizer_config, warmup + steps)[0]
        for m, mod in modules.items()
    }
    batches = iter(datamodule.train_dataloader())
    for k in range(warmup + steps):
        clock.on = k >= warmup
        start = time.perf_counter()
        batch = next(batches)
        wait = time.perf_counter() - start
        order = MODES if k % 2 == 0 else MODES[::-1]
        for mode in order:
            clock.add(mode, "data wait", wait)
            train_step(modules[mode], optimizers[mode], batch, mode, clock)
    clock.on = True
    # generation is compared on the same weights (the two copies trained apart by float rounding, and an
    # untrained model's answers, hence generation lengths, change with the last bit)
    modules["old"].load_state_dict(modules["new"].state_dict())
    for module in modules.values():
        module.eval()
    seen = 0
    for loader in datamodule.val_dataloader():
        for batch in loader:
            if seen >= eval_batches:
                break
            for mode in MODES if seen % 2 == 0 else MODES[::-1]:
                eval_batch(modules[mode], batch, mode, clock)
            seen += 1
    return clock


def table(clock: Clock, modules: dict) -> str:
    """The benchmark's table: one row per measure, columns old, new and new / old."""
    rows: list[tuple[str, dict[str, float], str]] = []

    def per_step(part: str) -> dict[str, float]:
        return {m: 1000 * clock.seconds[m, part] / max(clock.counts[m, "steps"], 1) for m in MODES}

    media = per_step("media")
    forward = per_step("forward")
    parts = {
        "data wait (ms/step)": per_step("data wait"),
        "media: encoders + connectors (ms/step)": media,
        "LM forward: splice, LM, loss (ms/step)": {m: forward[m] - media[m] for m in MODES},
        "backward (ms/step)": per_step("backward"),
        "optimizer (ms/step)": per_step("optimizer"),
    }
    total = {m: sum(p[m] for p in parts.values()) for m in MODES}
    rows += [(name, values, "ms") for name, values in parts.items()]
    rows.append(("step total (ms/step)", total, "ms"))
    pad = {m: 1 - clock.counts[m, "real"] / max(clock.counts[m, "tokens"], 1) for m in MODES}
    rows.append(("padding share of LM tokens", pad, "share"))
    real = {m: clock.counts[m, "real"] / max(total[m] * clock.counts[m, "steps"] / 1000, 1e-9) for m in MODES}
    rows.append(("real (non-pad) tokens/s", real, "rate"))
    n_eval = {m: max(clock.counts[m, "eval samples"], 1) for m in MODES}
    gen = {m: 1000 * clock.seconds[m, "eval generation"] / n_eval[m] for m in MODES}
    rows.append(("eval generation (ms/sample)", gen, "ms"))
    eval_rate = {
        m: n_eval[m] / max(clock.seconds[m, "eval loss"] + clock.seconds[m, "eval generation"], 1e-9)
        for m in MODES
    }
    rows.append(("eval samples/s (loss + generation)", eval_rate, "rate"))
    cache = modules["new"].model.feature_cache
    hit = {"old": float("nan"), "new": cache.hit_rate if cache is not None else float("nan")}
    rows.append(("feature cache hit rate", hit, "share"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  {'old':>10}  {'new':>10}  {'new/old':>8}"]
    for name, values, kind in rows:
        fmt = "{:10.3f}" if kind == "share" else "{:10.1f}"
        ratio = values["new"] / values["old"] if values["old"] and kind != "share" else float("nan")
        ratio_text = f"{ratio:8.2f}" if ratio == ratio else f"{'':8}"
        lines.append(
            f"{name:{width}}  {fmt.format(values['old'])}  {fmt.format(values['new'])}  {ratio_text}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default="configs/demo/multitask_ilora.yaml", help="a `crabplus fit` config"
    )
    parser.add_argument("--preset", default=None, help="model preset instead of the config's")
    parser.add_argument("--data", default=None, help="shard root (default: a small synthesised demo world)")
    parser.add_argument("--steps", type=int, default=40, help="measured training steps per path")
    parser.add_argument(
        "--warmup", type=int, default=30, help="unmeasured steps first (they fill the feature cache)"
    )
    parser.add_argument("--workers", type=int, default=None, help="data.num_workers (default: the config's)")
    parser.add_argument("--eval-batches", type=int, default=6, help="validation batches for generation")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="generation budget override")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    config = yaml.safe_load((ROOT / args.config).read_text())
    if args.max_new_tokens is not None:
        config["model"]["init_args"]["max_new_tokens"] = args.max_new_tokens
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = str(Path(tmp) / "data")
            print(f"synthesising a small demo world in {data} ...", flush=True)
            synthesise(Path(data))
        modules, datamodule = build(config, args, data)
        started = time.perf_counter()
        clock = run(modules, datamodule, args.steps, args.warmup, args.eval_batches)
        elapsed = time.perf_counter() - started
    print(
        f"\n{args.config} (preset {modules['new'].hparams.preset}), {args.steps} measured steps per path "
        f"after {args.warmup} warm-up, batch {datamodule.batch_size}, data.num_workers "
        f"{datamodule.num_workers}, torch threads {torch.get_num_threads()}; {elapsed:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n"
        f"old = {', '.join(f'{k}={v}' for k, v in OLD_PATHS.items())}; new = the defaults\n"
    )
    print(table(clock, modules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
