"""Where a training step goes, old paths against new, measured side by side in one run.

Two copies of the same module (same seed, same weights) train on the same batches, one with the new
paths off (``logits=all``: the LM head over every position; ``feature_cache_mb=0``: frozen encoders run
on every visit; ``length_groups=1``: one LM call over the whole padded batch; ``dropout_draw=bernoulli``:
``F.dropout`` in the adapters; ``fused_adapter=False``: autograd's graph of the adapter maths; the
per-tensor AdamW update; one tokenizer call per text) and one with them on (the defaults: LM head at answer
positions only, frozen-encoder feature cache, LM calls per length group, adapter dropout from 16-bit
lanes, each adapter term as one autograd node, the multi-tensor AdamW update, one tokenizer call per list). Their steps
alternate (old first on even steps, new first on odd ones), so a loaded machine slows both alike. Per step: data wait (the loader's ``next``, shared by both copies), media (encoders and
connectors, with the cache where on), LM forward (splice, LM, loss), backward, optimizer; the share of
padding tokens per batch; real (non-pad) tokens per second. Evaluation: greedy generation per sample on
the validation split and evaluation samples per second (loss forward + generation, as ``crabplus test``).

Usage: python tools/bench_train.py [--config configs/demo/multitask_ilora.yaml] [--preset NAME]
       [--data DIR] [--steps 60] [--warmup N] [--workers N] [--eval-batches 6]
Without ``--data`` a small copy of the demo world is synthesised in a temp dir (about a minute).

The measured steps follow two passes over that world's clips, so they revisit clips as the demo does after
its first pass, in 84% of its steps (1600 steps of 8 over 2000 clips: 6.4 visits each); the table's hit
rate is theirs. The warm-up steps (the first pass: first visits of most clips) are timed too and their
ratio printed below the table, with the demo-weighted mean of the two.
"""

from __future__ import annotations

import argparse
import math
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
# the demo world's proportions (synth_match has 3x the clips, as it has 3x the weight, so every clip is
# revisited at the same pace), at a sixth of its size
SMALL_WORLD = ["splits.train=32", "splits.val=8", "splits.test=0", "tasks.synth_match.splits.train=96"]
TRAIN_CLIPS = 7 * 32 + 96
MODES = ("old", "new")
OLD_PATHS = {
    "logits": "all",
    "feature_cache_mb": 0.0,
    "length_groups": 1,
    "dropout_draw": "bernoulli",
    "fused_adapter": False,
}


def synthesise(out: Path) -> None:
    """A small copy of the demo world (every task) for the benchmark."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "crabplus.cli", "data", "synth", "--out", str(out), "--config", WORLD]
    subprocess.run([*args, *SMALL_WORLD], cwd=ROOT, env=env, check=True, capture_output=True)


class PerTextTokenizer:
    """The old path's tokenizer calls: one per text, as ``AVLLM.tokenize`` made them before it passed each
    list in one call (everything else is the wrapped tokenizer's)."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer

    def __call__(self, text, **kwargs):
        if isinstance(text, list):
            return {"input_ids": [self._tokenizer(t, **kwargs)["input_ids"] for t in text]}
        return self._tokenizer(text, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._tokenizer, name)

    def __len__(self) -> int:
        return len(self._tokenizer)


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
    modules["old"].model.tokenizer = PerTextTokenizer(modules["old"].model.tokenizer)
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
        self.cache: dict[str, tuple[int, int]] = {}  # the feature cache's (hits, misses) at "start", "end"

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


COLD_SKIP = 5  # first steps left out of the first-pass clock (allocator and kernel warm-up)


def run(
    modules: dict, datamodule, steps: int, warmup: int, first_pass: int, eval_batches: int
) -> tuple[Clock, Clock]:
    """(clock of the measured steps and evaluation, clock of the first-pass steps ``COLD_SKIP`` to
    ``first_pass``); the steps between the two windows are not timed."""
    from crabplus.train.optim import build_optimizer

    clock, cold = Clock(), Clock()
    for mode, module in modules.items():
        time_media(module, mode, clock)
        module.train()
    optimizers = {
        m: build_optimizer(mod.model.parameters(), mod.optimizer_config, warmup + steps, foreach=m == "new")[
            0
        ]
        for m, mod in modules.items()
    }
    cache = modules["new"].model.feature_cache
    windows = {cold: (COLD_SKIP, min(first_pass, warmup)), clock: (warmup, warmup + steps)}
    batches = iter(datamodule.train_dataloader())
    for k in range(warmup + steps):
        for timing, (begin, end) in windows.items():
            timing.on = begin <= k < end
            if cache is not None and k in (begin, end):  # the cache's hit rate per window
                timing.cache["start" if k == begin else "end"] = (cache.hits, cache.misses)
        start = time.perf_counter()
        batch = next(batches)
        wait = time.perf_counter() - start
        timing = clock if clock.on else cold
        for mode in MODES if k % 2 == 0 else MODES[::-1]:
            timing.add(mode, "data wait", wait)
            train_step(modules[mode], optimizers[mode], batch, mode, timing)
    if cache is not None:
        clock.cache["end"] = (cache.hits, cache.misses)
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
    return clock, cold


def demo_first_pass_share(config: dict) -> float:
    """Share of a fit's training samples that are first visits: the demo world's training clips over the
    samples the config's ``max_steps`` draws."""
    world = yaml.safe_load((ROOT / WORLD).read_text())
    default = world["splits"]["train"]
    clips = sum((spec or {}).get("splits", {}).get("train", default) for spec in world["tasks"].values())
    samples = config["trainer"]["max_steps"] * config["data"]["init_args"]["batch_size"]
    return min(1.0, clips / samples)


def hit_rate(clock: Clock) -> float:
    """The feature cache's hit rate over the clock's steps (nan when there is no cache)."""
    if "end" not in clock.cache:
        return float("nan")
    (h0, m0), (h1, m1) = clock.cache["start"], clock.cache["end"]
    return (h1 - h0) / max(h1 - h0 + m1 - m0, 1)


def real_tokens_per_second(clock: Clock, mode: str) -> float:
    seconds = sum(clock.seconds[mode, p] for p in ("data wait", "forward", "backward", "optimizer"))
    return clock.counts[mode, "real"] / max(seconds, 1e-9)


def table(clock: Clock) -> str:
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
    rows.append(
        ("feature cache hit rate (these steps)", {"old": float("nan"), "new": hit_rate(clock)}, "share")
    )
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
    parser.add_argument("--steps", type=int, default=60, help="measured training steps per path")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="steps before the measured ones (default: two passes over the synthesised world's training "
        "clips, so the measured steps revisit clips as the demo's later epochs do; 30 with --data)",
    )
    parser.add_argument("--workers", type=int, default=None, help="data.num_workers (default: the config's)")
    parser.add_argument("--eval-batches", type=int, default=6, help="validation batches for generation")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="generation budget override")
    args = parser.parse_args(argv)
    if not (ROOT / args.config).is_file():
        parser.error(f"--config {args.config}: no such file (paths are relative to the repository root)")
    if args.data is not None and not Path(args.data).is_dir():
        parser.error(f"--data {args.data}: no such folder of shards")
    return args


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
        warmup, first_pass = args.warmup, math.ceil(TRAIN_CLIPS / datamodule.batch_size)
        if warmup is None:
            warmup = 30 if args.data else 2 * first_pass
        if args.data:
            first_pass = warmup  # the world's size is unknown: the whole warm-up is the first window
        started = time.perf_counter()
        clock, cold = run(modules, datamodule, args.steps, warmup, first_pass, args.eval_batches)
        elapsed = time.perf_counter() - started
    print(
        f"\n{args.config} (preset {modules['new'].hparams.preset}), {args.steps} measured steps per path "
        f"after {warmup} warm-up, batch {datamodule.batch_size}, data.num_workers "
        f"{datamodule.num_workers}, torch threads {torch.get_num_threads()}; {elapsed:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n"
        f"old = {', '.join(f'{k}={v}' for k, v in OLD_PATHS.items())}, per-tensor AdamW, a tokenizer call "
        "per text; new = the defaults\n"
    )
    print(table(clock))
    if cold.counts:
        begin, end = COLD_SKIP, min(first_pass, warmup)
        cold_rates = {m: real_tokens_per_second(cold, m) for m in MODES}
        print(
            f"\nfirst pass, steps {begin}-{end - 1} (first visits of most clips, feature cache hit rate "
            f"{hit_rate(cold):.3f}): real tokens/s new/old {cold_rates['new'] / cold_rates['old']:.2f}"
        )
        if not args.data:
            share = demo_first_pass_share(config)
            warm_rates = {m: real_tokens_per_second(clock, m) for m in MODES}
            mean = {m: 1 / (share / cold_rates[m] + (1 - share) / warm_rates[m]) for m in MODES}
            print(
                f"the demo run weighted ({share:.0%} of its steps in its first pass): real tokens/s new/old "
                f"{mean['new'] / mean['old']:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
