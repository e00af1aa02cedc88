"""``crabplus export --ckpt_path C --out DIR``: a training checkpoint's adapter and connectors as safetensors.

A Lightning ``.ckpt`` holds the trainable tensors of an :class:`~crabplus.train.AVLLMModule` plus its
hyper-parameters (preset, overrides, adapter); the frozen base is rebuilt from the preset. ``DIR`` gets::

    export.json                    what was exported, from which checkpoint and preset
    adapter/                       the project's own I-LoRA adapter (``crabplus.lora.save_adapter``)
    modules.safetensors            every other trained tensor by model path (connectors, mask head, ...)
    peft/                          K = 1: a peft LoRA folder for ``model.language_model``
                                   (``PeftModel.from_pretrained(lm, DIR/peft)``)
    crab_adapter.safetensors       K > 1: the adapter in Crab's key layout (``lora_A``, ``lora_B{i}``,
                                   ``lora_route``; language-model layers under ``base_model.model.``)

The peft folder carries the language model's adapters only (peft wraps one model; encoder adapters, if
any, are in ``adapter/``). :func:`load_export` rebuilds the whole model from ``DIR`` in one call.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from crabplus.lora import (
    ILoRAConfig,
    crab_state_dict,
    ilora_layers,
    inject,
    load_adapter,
    save_adapter,
)
from crabplus.model import AVLLM, build_avllm

__all__ = [
    "ExportError",
    "export_checkpoint",
    "load_checkpoint_model",
    "load_export",
    "save_peft_lora",
    "main",
]

FORMAT_VERSION = 1
LM_PREFIX = "language_model."


class ExportError(ValueError):
    """A checkpoint or export folder that cannot be exported / loaded; the message names the file."""


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}


def _language_model_layers(model: AVLLM) -> list[tuple[str, Any]]:
    """(name relative to ``model.language_model``, layer) of the language model's I-LoRA layers."""
    out = []
    for name, layer in ilora_layers(model):
        if layer.group != "llm":
            continue
        if not name.startswith(LM_PREFIX):
            raise ExportError(f"I-LoRA layer {name} is an LLM target outside {LM_PREFIX.rstrip('.')}")
        out.append((name.removeprefix(LM_PREFIX), layer))
    return out


def save_peft_lora(model: AVLLM, directory: str | Path) -> Path:
    """Write the K = 1 adapter of ``model.language_model`` as a peft LoRA folder.

    peft's LoRA is y = W x + (alpha / r) · B A drop(x), the I-LoRA layer at K = 1 with the same A and B,
    so the tensors are copied as they are. ``target_modules`` lists the full module names (peft matches
    a name or a dotted suffix), so nothing outside the adapted layers is wrapped.
    """
    from peft import LoraConfig  # imported here: only this export needs peft

    config = model.ilora_config
    if config.heads != 1:
        raise ExportError(f"a peft LoRA folder needs ILoRAConfig.heads=1, the model has heads={config.heads}")
    layers = _language_model_layers(model)
    if not layers:
        raise ExportError("the model's language model has no I-LoRA layers to export to peft")
    tensors: dict[str, torch.Tensor] = {}
    for name, layer in layers:
        tensors[f"base_model.model.{name}.lora_A.weight"] = layer.lora_A.weight
        tensors[f"base_model.model.{name}.lora_B.weight"] = layer.lora_B.weight
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout, bias="none",
        target_modules=[name for name, _ in layers], task_type="CAUSAL_LM",
    ).save_pretrained(str(out))  # fmt: skip
    save_file(_contiguous(tensors), str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    return out


def crab_layout(model: AVLLM) -> dict[str, torch.Tensor]:
    """Crab-layout adapter tensors: language-model layers as Crab's PEFT wrapping names them
    (``base_model.model.model.layers.{l}...``), encoder layers under their model path."""
    lm = crab_state_dict(model.language_model, prefix="base_model.model.")
    encoders = {
        k: v for k, v in crab_state_dict(model).items() if not k.startswith(LM_PREFIX)
    }  # groups other than llm
    return {**lm, **encoders}


def load_checkpoint_model(ckpt_path: str | Path) -> tuple[AVLLM, dict[str, Any], dict[str, torch.Tensor]]:
    """(model, hyper-parameters, trained tensors by model path) of an AVLLMModule checkpoint: the preset
    rebuilt (its frozen base is deterministic), the adapter injected, the trained tensors loaded."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise ExportError(f"{path}: no such checkpoint")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    hparams = checkpoint.get("hyper_parameters") or {}
    if "preset" not in hparams or "state_dict" not in checkpoint:
        raise ExportError(f"{path}: not an AVLLMModule checkpoint (no hyper_parameters.preset / state_dict)")
    model = build_avllm(hparams["preset"], **dict(hparams.get("model_overrides") or {}))
    adapter = hparams.get("adapter")
    if adapter is not None:
        inject(model, adapter if isinstance(adapter, ILoRAConfig) else ILoRAConfig(**adapter))
    trained = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()}
    unexpected = model.load_state_dict(trained, strict=False).unexpected_keys
    if unexpected:
        raise ExportError(
            f"{path}: tensors the rebuilt {hparams['preset']} model does not have, e.g. {unexpected[:3]}"
        )
    adapter_keys = {n for n, _ in model.named_parameters() if ".lora_" in n}
    missing = sorted(adapter_keys - set(trained))
    if missing and len(missing) < len(adapter_keys):
        raise ExportError(f"{path}: the checkpoint lacks {len(missing)} adapter tensors, e.g. {missing[:3]}")
    return model.eval(), hparams, trained


def export_checkpoint(ckpt_path: str | Path, out: str | Path) -> dict[str, Any]:
    """Export ``ckpt_path`` into ``out`` (see module docstring); returns the manifest written to export.json."""
    ckpt_path, out = Path(ckpt_path), Path(out)
    model, hp, state = load_checkpoint_model(ckpt_path)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    heads = None
    if any(".lora_" in k for k in state):  # an adapter that was trained (not frozen at its init)
        heads = model.ilora_config.heads
        save_adapter(model, out / "adapter")
        files["adapter"] = "adapter"
        if heads == 1:
            save_peft_lora(model, out / "peft")
            files["peft"] = "peft"
        else:
            save_file(
                _contiguous(crab_layout(model)),
                str(out / "crab_adapter.safetensors"),
                metadata={"format": "pt"},
            )
            files["crab"] = "crab_adapter.safetensors"
    trained = {k: v for k, v in state.items() if ".lora_" not in k}
    if trained:
        save_file(_contiguous(trained), str(out / "modules.safetensors"), metadata={"format": "pt"})
        files["modules"] = "modules.safetensors"
    manifest = {
        "format_version": FORMAT_VERSION,
        "checkpoint": ckpt_path.name,
        "preset": hp["preset"],
        "model_overrides": dict(hp.get("model_overrides") or {}),
        "trainable": hp.get("trainable"),
        "heads": heads,
        "files": files,
    }
    (out / "export.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def load_export(directory: str | Path) -> AVLLM:
    """The model an export describes: the preset rebuilt, then the adapter and trained modules loaded."""
    root = Path(directory)
    path = root / "export.json"
    if not path.is_file():
        raise ExportError(f"{path}: not found (not a `crabplus export` folder)")
    manifest = json.loads(path.read_text())
    model = build_avllm(manifest["preset"], **manifest["model_overrides"])
    files = manifest["files"]
    if "adapter" in files:
        load_adapter(model, root / files["adapter"])
    if "modules" in files:
        tensors = load_file(str(root / files["modules"]))
        unexpected = model.load_state_dict(tensors, strict=False).unexpected_keys
        if unexpected:
            raise ExportError(
                f"{root / files['modules']}: keys the model does not have, e.g. {unexpected[:3]}"
            )
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crabplus export", description="Export a checkpoint's adapter (+ connectors) as safetensors."
    )
    parser.add_argument("--ckpt_path", required=True, help="Lightning checkpoint of an AVLLMModule run.")
    parser.add_argument("--out", required=True, help="Output folder (created).")
    args = parser.parse_args(argv)
    try:
        manifest = export_checkpoint(args.ckpt_path, args.out)
    except ExportError as err:
        print(f"crabplus export: {err}")
        return 2
    listed = ", ".join(f"{k}: {v}" for k, v in manifest["files"].items())
    print(f"exported {args.ckpt_path} -> {args.out} ({listed})")
    return 0
