"""Continual audio-video pre-training study on the synthetic world (issue G acceptance).

Trains sequential fine-tuning, experience replay, STELLA without selection and STELLA on a stream of
synthetic domains (disjoint class groups), evaluates zero-shot retrieval on every seen domain after
each step, and measures one step's activation memory (saved-tensor bytes) for every method at equal
batch size. Prints one table, writes rows to `<out>/continual_results.{json,csv}` (transfer-store
schema) and, when `crabplus.transfer` offers a results store, to it as well.

Usage: OMP_NUM_THREADS=1 python tools/continual_study.py [--steps 150] [--out runs/continual]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
import warnings
from pathlib import Path

import torch

from crabplus.continual.config import BackboneConfig, StellaConfig
from crabplus.continual.domains import build_domains, default_domains
from crabplus.continual.memory import step_activation_bytes
from crabplus.continual.pretrainer import ContinualAVPretrainer
from crabplus.continual.scenario import ScenarioConfig, fingerprint, result_rows, run_method
from crabplus.data.synth import CLASS_NAMES, SynthWorld, WorldConfig

METHODS = ("finetune", "er", "stella_noselect", "stella")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=150, help="optimizer steps per domain")
    p.add_argument("--domains", type=int, default=3, help="number of disjoint class groups")
    p.add_argument("--train", type=int, default=256, help="training clips per domain")
    p.add_argument("--test", type=int, default=64, help="retrieval test clips per domain")
    p.add_argument("--batch", type=int, default=16, help="current clips per step")
    p.add_argument("--memory", type=int, default=128, help="replay buffer capacity (clips)")
    p.add_argument(
        "--contrastive-weight",
        type=float,
        default=1.0,
        help="InfoNCE weight (paper 0.1; the tiny model needs a stronger contrastive signal in 150 steps)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/continual", help="output folder (results and clip cache)")
    p.add_argument("--store", default=None, help="results store (default <out>/results.sqlite)")
    return p.parse_args()


def measure_memory(domain_media: dict, backbone: BackboneConfig, stella: StellaConfig, batch: int) -> dict:
    """Activation bytes of one step per method, same clips, same batch size."""
    video, audio = domain_media["video"][:batch], domain_media["audio"][:batch]
    out = {}
    for method in METHODS:
        torch.manual_seed(0)
        out[method] = step_activation_bytes(ContinualAVPretrainer(backbone, stella, method), video, audio)
    return out


def print_table(results: list, memory: dict) -> None:
    head = f"{'method':<16}{'A a2v R@1/5/10':>20}{'F a2v R@1/5/10':>20}{'A v2a R@1/5/10':>20}{'F v2a R@1/5/10':>20}"
    head += f"{'act. MB/step':>14}{'time s':>8}"
    print(head)
    print("-" * len(head))
    for r in results:
        s = r.summary
        cells = [
            "/".join(f"{s[f'{q}/{d}_r{k}']:.1f}" for k in (1, 5, 10))
            for d in ("a2v", "v2a")
            for q in ("A", "F")
        ]
        print(
            f"{r.method:<16}"
            + "".join(f"{c:>20}" for c in cells)
            + f"{memory[r.method] / 2**20:>14.2f}{r.seconds:>8.0f}"
        )
    drop = 1 - memory["stella"] / memory["stella_noselect"]
    print(f"\nactivation memory, STELLA vs STELLA without selection (equal batch): -{100 * drop:.1f}%")
    fin = next(r for r in results if r.method == "finetune").summary
    st = next(r for r in results if r.method == "stella").summary
    print(f"forgetting (mean R@1/5/10, a2v): finetune {fin['F/a2v_mean']:.2f}  stella {st['F/a2v_mean']:.2f}")


def write_rows(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "continual_results.json").write_text(json.dumps(rows, indent=1))
    with open(out / "continual_results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_store(rows: list[dict], path: Path, groups: list[list[str]], args: argparse.Namespace) -> None:
    """Rows into the transfer results store (split "test": held-out retrieval clips).

    The store's `runs.kind` admits only single_task / multitask; a continual stream is registered as
    "multitask" with variant `continual-<method>` (a dedicated kind needs a change in crabplus.transfer).
    """
    from crabplus.transfer import ResultRow, ResultsStore, RunInfo

    store = ResultsStore(path)
    tasks = tuple(f"continual/domain{d}" for d in range(len(groups)))
    for run_id in dict.fromkeys(r["run_id"] for r in rows):
        first = next(r for r in rows if r["run_id"] == run_id)
        variant = run_id.rsplit("-seed", 1)[0]
        store.register_run(
            RunInfo(run_id, first["fingerprint"], "multitask", tasks, variant, args.seed, vars(args))
        )
    store.add_results(ResultRow(**r, split="test") for r in rows)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    t0 = time.perf_counter()
    backbone, stella = (
        BackboneConfig(),
        StellaConfig(memory_size=args.memory, contrastive_weight=args.contrastive_weight),
    )
    sched = ScenarioConfig(steps_per_domain=args.steps, batch_size=args.batch, seed=args.seed)
    world = SynthWorld(WorldConfig(num_classes=len(CLASS_NAMES), seed=args.seed))
    groups = default_domains(CLASS_NAMES, args.domains)
    domains = build_domains(
        world, groups, args.train, args.test, backbone, cache_dir=Path(args.out) / "cache"
    )
    print(f"domains: {[' '.join(g) for g in groups]}  (built in {time.perf_counter() - t0:.0f}s)")
    memory = measure_memory(domains[0].train, backbone, stella, args.batch)
    results, rows = [], []
    for method in METHODS:
        result = run_method(method, domains, backbone, stella, sched)
        results.append(result)
        fp = fingerprint(backbone, stella, sched)
        rows += result_rows(result, domains, f"continual-{method}-seed{args.seed}", fp)
        rows.append(
            dict(
                rows[-1],
                task="continual/memory",
                metric="activation_mb",
                value=memory[method] / 2**20,
                higher_is_better=False,
            )
        )
    print_table(results, memory)
    write_rows(rows, Path(args.out))
    store = Path(args.store or Path(args.out) / "results.sqlite")
    write_store(rows, store, groups, args)
    print(f"\nrows -> {args.out}/continual_results.csv and {store}   total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
