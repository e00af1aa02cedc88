"""``crabplus plan --config C [--config C2 ...] [--devices N] [--strategy S] [--gpu NAME] [--json]``.

Reads the same YAML files ``crabplus fit`` reads, builds the model on the meta device (real presets with
``init="meta"``: no weights, no network, seconds), injects the configured adapter, and prints parameter
counts per group, tokens per sample of each task, and the per-device memory estimate of one training
step, with and without activation checkpointing, against a named device memory. ``--json`` prints the
same as one JSON object.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from crabplus.lora import ILoRAConfig, inject
from crabplus.model import PRESETS, WeightsPathError, build_avllm, check_weights_path, set_trainable
from crabplus.plan.memory import GIB, StackLoad, StrategySpec, estimate_memory
from crabplus.plan.params import count_groups
from crabplus.plan.stacks import find_stacks, measure_stack
from crabplus.plan.tokens import task_tokens

__all__ = ["DEVICE_MEMORY_GIB", "main", "plan"]

#: Named device memories (GiB as the driver reports them, roughly).
DEVICE_MEMORY_GIB: dict[str, float] = {
    "a100-40gb": 39.4, "a100-80gb": 79.3, "h100-80gb": 79.1, "h200": 139.8, "l40s": 44.4,
    "rtx4090": 23.6, "a6000": 47.5,
}  # fmt: skip
_COMPUTE = {"bf16-mixed": torch.bfloat16, "bf16-true": torch.bfloat16, "bf16": torch.bfloat16,
            "16-mixed": torch.float16, "16-true": torch.float16, "16": torch.float16}  # fmt: skip


def load_config(paths: list[str]) -> dict[str, Any]:
    """The merged, resolved config of several YAML files (later files win), as ``fit`` layers them."""
    merged = OmegaConf.merge(*(OmegaConf.load(p) for p in paths))
    return OmegaConf.to_container(merged, resolve=True)


def _strategy_name(trainer: dict[str, Any]) -> str:
    strategy = trainer.get("strategy", "auto")
    if isinstance(strategy, str):
        name = strategy.lower()
        return {"auto": "ddp", "ddp_spawn": "ddp", "ddp_find_unused_parameters_true": "ddp"}.get(name, name)
    cls = strategy.get("class_path", "")
    args = strategy.get("init_args", {}) or {}
    if cls.endswith("FSDPStrategy"):
        return "fsdp_shard_grad_op" if args.get("sharding_strategy") == "SHARD_GRAD_OP" else "fsdp"
    if cls.endswith("DeepSpeedStrategy"):
        return f"deepspeed_stage_{args.get('stage', 2)}"
    return "ddp"


def _checkpointed_layers(trainer: dict[str, Any]) -> list[str]:
    strategy = trainer.get("strategy")
    if not isinstance(strategy, dict):
        return []
    policy = (strategy.get("init_args") or {}).get("activation_checkpointing_policy") or {}
    return list((policy.get("init_args") or {}).get("layer_names") or [])


def preflight(overrides: dict[str, Any]) -> dict[str, str]:
    """``{key: "ok" | one-line problem}`` for every ``*_path`` override (plan reports, never stops)."""
    report = {}
    for key, value in overrides.items():
        if key.endswith("_path"):
            try:
                check_weights_path(key, value)
                report[key] = "ok"
            except WeightsPathError as err:
                report[key] = str(err)
    return report


def build_meta_model(preset: str, overrides: dict[str, Any]):
    """The preset on the meta device when it can build without weights (``init``), else as it builds."""
    params = inspect.signature(PRESETS[preset]).parameters
    kwargs = dict(overrides)
    if "init" in params:
        kwargs["init"] = "meta"
    return build_avllm(preset, **kwargs)


def plan(
    config: dict[str, Any], devices: int | None = None, strategy: str | None = None, gpu: str = "h100-80gb"
) -> dict[str, Any]:
    """Everything ``crabplus plan`` prints, as a dict (see the module docstring)."""
    model_args = (config.get("model") or {}).get("init_args") or {}
    data_args = (config.get("data") or {}).get("init_args") or {}
    trainer = config.get("trainer") or {}
    preset = model_args.get("preset", "tiny-modular")
    overrides = dict(model_args.get("model_overrides") or {})
    precision = str(trainer.get("precision", "32-true"))
    compute = _COMPUTE.get(precision, torch.float32)
    weight_dtype = (
        getattr(torch, overrides["dtype"])
        if overrides.get("dtype")
        else (compute if precision.endswith("-true") else torch.float32)
    )
    n_devices = devices or int(trainer.get("devices", 1) if str(trainer.get("devices", 1)).isdigit() else 1)
    spec = StrategySpec.named(strategy or _strategy_name(trainer), n_devices)

    model = build_meta_model(preset, overrides)
    adapter = model_args.get("adapter")
    if adapter is not None:
        inject(model, ILoRAConfig(**adapter))
    set_trainable(model, model_args.get("trainable", "adapters+connectors"))
    groups = count_groups(model)

    task_names = [t if isinstance(t, str) else t["name"] for t in data_args.get("tasks") or []]
    tokens = task_tokens(model, task_names, int(model_args.get("max_new_tokens", 48)))
    worst = max(tokens, key=lambda t: t.total) if tokens else None
    stacks = [measure_stack(s, layer, comp, compute) for s, layer, comp in find_stacks(model)]
    modality_of = {"vision_encoder": ("video", "image"), "audio_encoder": ("audio",)}

    def stack_tokens(component: str, row) -> int:
        if component == "language_model":
            return row.total
        return sum(row.encoder.get(m, 0) for m in modality_of[component])

    per_task = {}
    estimate = None
    compute_bytes = torch.empty(0, dtype=compute).element_size()
    for row in tokens:
        loads = [
            StackLoad(
                s.layer_class,
                s.layers,
                s.width,
                s.bytes_per_token or 0.0,
                stack_tokens(s.component, row),
                s.params,
            )
            for s in stacks
        ]
        est = estimate_memory(
            total_params=sum(g.total for g in groups.values()),
            trainable_params=sum(g.trainable for g in groups.values()),
            weight_bytes=torch.empty(0, dtype=weight_dtype).element_size(),
            compute_bytes=compute_bytes,
            strategy=spec,
            stacks=loads,
            lm_tokens=row.total,
            vocab=model.language_model.get_output_embeddings().out_features,
            micro_batch=int(data_args.get("batch_size", 1)),
            autocast=precision.endswith("-mixed"),
            largest_unit_params=max((s.params // max(s.layers, 1) for s in stacks), default=0),
        )
        per_task[row.task] = est
        if row is worst:
            estimate = est
    device_gib = DEVICE_MEMORY_GIB[gpu] if gpu in DEVICE_MEMORY_GIB else float(gpu)
    return {
        "config": {"preset": preset, "precision": precision, "weights_dtype": str(weight_dtype).replace("torch.", ""),
                   "strategy": spec.name, "devices": spec.devices,
                   "micro_batch": int(data_args.get("batch_size", 1)),
                   "checkpointed_layers": _checkpointed_layers(trainer),
                   "tokenizer": "tiny stand-in (prompt counts are estimates)"
                   if model.config.extra.get("tokenizer_stand_in") else "the model's own"},
        "preflight": preflight(overrides),
        "parameters": {g.name: {"total": g.total, "trainable": g.trainable} for g in groups.values()},
        "stacks": [{"component": s.component, "layer": s.layer_class, "layers": s.layers, "width": s.width,
                    "saved_bytes_per_token": s.bytes_per_token, "note": s.note} for s in stacks],
        "tasks": [{"task": t.task, "modalities": list(t.modalities), "media": t.media, "prompt": t.prompt,
                   "answer": t.answer, "total": t.total, "encoder": t.encoder} for t in tokens],
        "memory_gib": estimate.to_dict() if estimate else None,
        "memory_gib_per_task": {k: {"total": v.total / GIB, "total_ac": v.total_ac / GIB} for k, v in per_task.items()},
        "device": {"name": gpu, "memory_gib": device_gib,
                   "fits": estimate.fits(device_gib, False) if estimate else None,
                   "fits_with_checkpointing": estimate.fits(device_gib, True) if estimate else None},
    }  # fmt: skip


def _fmt(n: int) -> str:
    return f"{n:,}"


def render(result: dict[str, Any]) -> str:
    """The human-readable tables of a ``plan`` result."""
    cfg, params = result["config"], result["parameters"]
    lines = [
        f"plan: {cfg['preset']} | {cfg['precision']} (weights {cfg['weights_dtype']}) | "
        f"{cfg['strategy']} x {cfg['devices']} | micro-batch {cfg['micro_batch']} | tokenizer: {cfg['tokenizer']}"
    ]
    lines += ["", "pre-flight of the weight paths:"] + [
        f"  {k}: {v}" for k, v in result["preflight"].items()
    ] or []
    lines += ["", f"{'group':<18}{'total':>16}{'trainable':>16}"]
    for name, row in params.items():
        lines.append(f"{name:<18}{_fmt(row['total']):>16}{_fmt(row['trainable']):>16}")
    adapters = {k: params[f"{k} adapters"]["trainable"] for k in ("llm", "vision", "audio")}
    total_trainable = sum(r["trainable"] for r in params.values())
    lines += [
        f"{'all':<18}{_fmt(sum(r['total'] for r in params.values())):>16}{_fmt(total_trainable):>16}",
        "",
        f"trainable adapter parameters: {_fmt(sum(adapters.values()))} (LLM {_fmt(adapters['llm'])} / "
        f"vision {_fmt(adapters['vision'])} / audio {_fmt(adapters['audio'])} / total {_fmt(sum(adapters.values()))})",
        "",
        f"{'task':<14}{'media':>8}{'prompt':>8}{'answer':>8}{'total':>8}   encoder tokens",
    ]
    for t in result["tasks"]:
        lines.append(
            f"{t['task']:<14}{t['media']:>8}{t['prompt']:>8}{t['answer']:>8}{t['total']:>8}   {t['encoder']}"
        )
    lines += ["", "layer stacks (saved activation bytes per token per layer, measured on the meta device):"]
    for s in result["stacks"]:
        per = "-" if s["saved_bytes_per_token"] is None else f"{s['saved_bytes_per_token']:,.0f}"
        lines.append(
            f"  {s['component']:<16}{s['layer']:<30} x{s['layers']:<4} width {s['width']:<6} {per} {s['note']}"
        )
    mem = result["memory_gib"]
    if mem:
        lines += ["", "memory per device (GiB) for the longest task:"]
        for key in (
            "weights",
            "gradients",
            "optimizer",
            "autocast_copies",
            "activations",
            "activations_ac",
            "head",
            "workspace",
        ):
            lines.append(f"  {key:<18}{mem[key]:>10.2f}")
        dev = result["device"]
        lines += [
            f"  {'total':<18}{mem['total']:>10.2f}   fits {dev['name']} ({dev['memory_gib']} GiB): {_yes(dev['fits'])}",
            f"  {'total with AC':<18}{mem['total_ac']:>10.2f}   fits {dev['name']}: {_yes(dev['fits_with_checkpointing'])}"
            f"   (configured checkpointing: {', '.join(cfg['checkpointed_layers']) or 'none'})",
        ]
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crabplus plan", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, help="YAML config (repeatable, layered)")
    parser.add_argument("--devices", type=int, default=None, help="devices (default: trainer.devices)")
    parser.add_argument(
        "--strategy", default=None, help="ddp, fsdp, fsdp_shard_grad_op, deepspeed_stage_{1,2,3}"
    )
    parser.add_argument(
        "--gpu", default="h100-80gb", help=f"device memory: a name ({', '.join(DEVICE_MEMORY_GIB)}) or GiB"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    for path in args.config:
        if not Path(path).is_file():
            print(f"crabplus plan: --config {path} does not exist", file=sys.stderr)
            return 2
    if args.gpu not in DEVICE_MEMORY_GIB:
        try:
            float(args.gpu)
        except ValueError:
            print(
                f"crabplus plan: --gpu {args.gpu!r}; valid: {', '.join(DEVICE_MEMORY_GIB)} or a number of GiB",
                file=sys.stderr,
            )
            return 2
    result = plan(load_config(args.config), args.devices, args.strategy, args.gpu)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
