"""Modality-balancing study: train each configs/balance/<method>.yaml with several seeds, tabulate.

For every method and seed the config is parsed by LightningCLI (the same parser as ``crabplus fit``),
trained on the synthetic dominated-modality setting (audio easy, video hard), and evaluated on the
validation clips:

- fused accuracy (the fused head);
- audio / video linear-probe accuracy on each frozen encoder's features (comparable across methods,
  including those without trained unimodal heads);
- the unimodal gap = audio probe - video probe.

The Markdown table (mean +- std over seeds, plus mean final coefficients) goes to stdout and to
``<out>/table.md``; per-run rows to ``<out>/runs.json``.

Usage: python tools/balance_study.py [--methods none multiloss ogm_ge mlb] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from lightning.pytorch.cli import LightningCLI

from crabplus.balance import encoder_features, linear_probe_accuracy

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"none": "fused loss only", "multiloss": "multi-loss 1/1/1", "ogm_ge": "OGM-GE", "mlb": "MLB"}
QUIET = ["--trainer.logger=false", "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
         "--trainer.enable_model_summary=false", "--trainer.limit_val_batches=0"]  # the study evaluates itself


def run_one(config: Path, seed: int, extra: list[str]) -> dict[str, float]:
    """Train one config with one seed; return accuracies and the mean coefficients of the last epoch."""
    import lightning.pytorch as pl

    coefs: list[dict[str, float]] = []  # the applied coefficients of every optimizer step

    class Recorder(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args) -> None:
            coefs.append(dict(pl_module.balance.coefficients))

    cli = LightningCLI(run=False, save_config_callback=None, seed_everything_default=seed,
                       args=["--config", str(config), f"--seed_everything={seed}", *QUIET, *extra],
                       trainer_defaults={"callbacks": [Recorder()]})
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return evaluate(cli.model, cli.datamodule, coefs, cli.trainer.num_training_batches)


def evaluate(module, datamodule, coef_steps: list[dict[str, float]], steps_per_epoch: int) -> dict[str, float]:
    """Fused accuracy, linear-probe accuracies and the last epoch's mean coefficients on the val clips."""
    model = module.model
    train_x, train_y = encoder_features(model, datamodule.train_dataloader())
    val_x, val_y = encoder_features(model, datamodule.val_dataloader())
    num_classes = model.heads["audio"].out_features
    probes = {m: linear_probe_accuracy(train_x[m], train_y, val_x[m], val_y, num_classes) for m in ("audio", "video")}
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for batch in datamodule.val_dataloader():
            correct += int((model(batch["audio"], batch["video"]).fused.argmax(-1) == batch["label"]).sum())
            total += len(batch["label"])
    last = coef_steps[-max(1, int(steps_per_epoch)):]
    row = {"fused": correct / total, "audio": probes["audio"], "video": probes["video"],
           "gap": probes["audio"] - probes["video"]}
    for m in ("audio", "video"):
        row[f"k_{m}"] = statistics.fmean(s[m] for s in last) if last else 1.0
    return row


def _fmt(values: list[float]) -> str:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {std:.3f}"


def table(results: dict[str, list[dict[str, float]]], seeds: list[int], minutes: float) -> str:
    lines = [
        f"Synthetic dominated-modality setting (audio easy, video hard); mean ± std over seeds {seeds}; "
        f"validation clips; probes are linear probes on frozen encoder features. Wall time {minutes:.1f} min.",
        "",
        "| method | fused acc | audio probe | video probe | unimodal gap (a − v) | k_audio / k_video (last epoch) |",
        "|---|---|---|---|---|---|",
    ]
    for method, rows in results.items():
        cols = [_fmt([r[c] for r in rows]) for c in ("fused", "audio", "video", "gap")]
        ks = f"{statistics.fmean(r['k_audio'] for r in rows):.2f} / {statistics.fmean(r['k_video'] for r in rows):.2f}"
        lines.append(f"| {LABELS.get(method, method)} | " + " | ".join(cols) + f" | {ks} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["none", "multiloss", "ogm_ge", "mlb"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--configs", type=Path, default=ROOT / "configs" / "balance")
    parser.add_argument("--out", type=Path, default=Path("runs/balance_study"))
    parser.add_argument("--override", action="append", default=[], help="extra CLI args, e.g. --trainer.max_epochs=2")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.time()
    results: dict[str, list[dict[str, float]]] = {}
    for method in args.methods:
        config = args.configs / f"{method}.yaml"
        if not config.exists():
            parser.error(f"--methods: no config {config}")
        results[method] = [run_one(config, seed, args.override) for seed in args.seeds]
        print(f"[balance_study] {method}: {results[method]}", file=sys.stderr)
    text = table(results, args.seeds, (time.time() - start) / 60)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    (args.out / "runs.json").write_text(json.dumps(results, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
