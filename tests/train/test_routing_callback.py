"""RoutingStatsCallback in a real Lightning validation: files and logged values against gates computed
independently by a forward hook on one adapted layer (softmax(x W_rᵀ) from the hook's own input)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lora"))
from _lora_tiny import LLM_TARGETS, tiny_llama  # noqa: E402

from crabplus.lora import ILoRAConfig, inject, routing_inputs  # noqa: E402
from crabplus.train.callbacks.routing import RoutingStatsCallback  # noqa: E402

pytestmark = pytest.mark.integration


class ValModule(L.LightningModule):
    task_names = ["ave", "avqa"]

    def __init__(self) -> None:
        super().__init__()
        self.model = inject(tiny_llama(seed=0), ILoRAConfig(heads=3, rank=4, target_modules=LLM_TARGETS))

    def validation_step(self, batch, batch_idx):
        ids, task_ids = batch
        modality = torch.zeros_like(ids)
        modality[:, :3] = 1  # first 3 tokens "video"
        with routing_inputs(task_ids=task_ids, modality_ids=modality):
            self.log("val/loss", self.model(input_ids=ids, labels=ids).loss)


def test_callback_writes_and_logs_routing_stats(tmp_path: Path) -> None:
    module = ValModule()
    layers = [module.model.model.layers[i].self_attn.q_proj for i in range(2)]
    seen: dict[tuple[int, str], list[torch.Tensor]] = {
        (i, t): [] for i in range(2) for t in ValModule.task_names
    }

    def make_hook(index: int):
        def hook(layer, inputs, output):
            from crabplus.lora import current_routing_inputs

            gate = torch.softmax(inputs[0] @ layer.lora_route.weight.T, dim=-1).detach()  # (B, L, K)
            for b, t in enumerate(current_routing_inputs().task_ids.tolist()):
                seen[(index, ValModule.task_names[t])].append(gate[b])

        return hook

    for i, layer in enumerate(layers):
        layer.register_forward_hook(make_hook(i))
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randint(0, 64, (6, 7), generator=g), torch.tensor([0, 1, 1, 0, 1, 1]))
    callback = RoutingStatsCallback()
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, callbacks=[callback])  # fmt: skip
    trainer.validate(module, DataLoader(data, batch_size=2))
    files = callback.last_files
    assert files["json"].parent == tmp_path / "routing" and files["png"].stat().st_size > 0
    doc = json.loads(files["json"].read_text())
    name = "model.model.layers.1.self_attn.q_proj"
    rows = {(r["task"], r["modality"], r["head"]): r for r in doc["rows"] if r["layer"] == name}
    for task in ValModule.task_names:
        stacked = torch.stack(seen[(1, task)])  # (samples, L, K)
        for mod, sl in (("video", slice(0, 3)), ("text", slice(3, None))):
            part = stacked[:, sl].reshape(-1, 3)
            for h in range(3):
                assert rows[(task, mod, h)]["mean_gate"] == pytest.approx(float(part[:, h].mean()), abs=1e-6)
                assert rows[(task, mod, h)]["tokens"] == part.shape[0]
    every = torch.cat([torch.stack(v).reshape(-1, 3) for v in seen.values()])  # both layers of the group
    group = "val/routing/model.model.layers.*.self_attn.q_proj"
    for h in range(3):
        assert float(trainer.callback_metrics[f"{group}/head{h}"]) == pytest.approx(
            float(every[:, h].mean()), abs=1e-6
        )
    ave = torch.cat([torch.stack(seen[(i, "ave")]).reshape(-1, 3) for i in range(2)])
    assert "val/ave/routing_entropy" in trainer.callback_metrics
    entropy = -(every * every.log()).sum(-1).mean()
    assert float(trainer.callback_metrics[f"{group}/entropy"]) == pytest.approx(float(entropy), abs=1e-6)
    assert ave.shape[0] == 2 * 2 * 7 and all(layer.collector is None for layer in layers)
