"""A fixed-seed fingerprint of training: the sha256 of the trainable weights after a 60-step demo-recipe fit.

Why: refactors must not change what the trainer computes. This fits the demo's I-LoRA recipe
(``configs/demo/multitask_ilora.yaml``) for ``--steps`` steps in one process, one thread, ``num_workers`` 0,
on a small copy of the demo world, then hashes every trainable tensor of ``last.ckpt`` (names sorted,
dtype, shape and raw bytes). ``tests/train/test_weight_digest.py`` keeps the digest recorded before the
seams refactor and compares against it.

Usage: python tools/weight_digest.py [--steps 60] [--workdir DIR] [--extra OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "configs/demo/multitask_ilora.yaml"
WORLD = "configs/data/synth_demo.yaml"
# a small copy of the demo world: every task, few clips (enough for 60 steps of batch 8 with reuse)
WORLD_OVERRIDES = ["splits.train=16", "splits.val=0", "splits.test=0", "tasks.synth_match.splits.train=16"]
# the recorded digest is of the trainer before the throughput paths (tools/bench_train.py): LM head over every
# position, no frozen-encoder feature cache, one LM call per batch, frames resized through float32, adapter dropout by
# bernoulli_, the adapter term through autograd's graph. The new
# paths give the same loss within float rounding (and frames within one grey level), not bit for bit.
OLD_PATHS = [
    "--model.init_args.logits=all", "--model.init_args.feature_cache_mb=0", "--model.init_args.length_groups=1",
    "--data.init_args.media.uint8_resize=false", "--model.init_args.dropout_draw=bernoulli",
    "--model.init_args.fused_adapter=false",
]  # fmt: skip


def digest_of_checkpoint(path: Path) -> str:
    """sha256 over the checkpoint's ``state_dict`` entries (the module saves trainable tensors only)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().contiguous().cpu()
        h.update(name.encode())
        h.update(str(tensor.dtype).encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return h.hexdigest()


def fit_and_digest(workdir: Path, steps: int = 60, extra: list[str] | None = None) -> str:
    """Synthesise the small world, fit ``steps`` steps of the demo recipe, return the weight digest."""
    env = {
        **os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore",
    }  # fmt: skip
    crabplus = [sys.executable, "-m", "crabplus.cli"]
    data = workdir / "data"
    if not (data / "synth_cls").exists():
        subprocess.run(
            [*crabplus, "data", "synth", "--out", str(data), "--config", WORLD, *WORLD_OVERRIDES],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
    args = [
        *crabplus, "fit", "--config", CONFIG, f"--runs_dir={workdir / 'runs'}", "--run_name=digest",
        f"--data.init_args.root={data}", "--data.init_args.num_workers=0", f"--trainer.max_steps={steps}",
        "--data.init_args.stream_slots=1",  # the data order the digest was recorded with (one stream slot)
        f"--trainer.val_check_interval={steps}", "--trainer.limit_val_batches=0",
        "--trainer.enable_progress_bar=false", f"--checkpoint_every_n_steps={steps}", *OLD_PATHS, *(extra or []),
    ]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"fit failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return digest_of_checkpoint(workdir / "runs" / "digest" / "checkpoints" / "last.ckpt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workdir", type=Path, default=None, help="kept when given; a temp dir otherwise")
    parser.add_argument("--extra", nargs="*", default=[], help="more `crabplus fit` overrides")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        print(fit_and_digest(args.workdir, args.steps, args.extra))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(fit_and_digest(Path(tmp), args.steps, args.extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
