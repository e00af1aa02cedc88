"""Worker of test_ilora_ddp.py: 3 Lightning DDP steps on a tiny Llama with I-LoRA, one routing variant.

Launched twice by the test with LOCAL_RANK/WORLD_SIZE set, so Lightning treats the processes as created
externally (no re-launch). Strategy "ddp" keeps find_unused_parameters=False: a parameter without a
gradient in a step makes DDP raise on the next step. The module also asserts in on_after_backward that
every trainable parameter got a gradient, and at the end that the ranks hold identical adapters that
moved away from their initial values (heads and the variant's gate modules). Rank 0 writes
"<routing> ok" to argv[1]. Variants registered by ``test_variant_*.py`` modules are loaded first.
"""

from __future__ import annotations

import os
import sys
import warnings

import lightning as L
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(__file__))
from _lora_tiny import LLM_TARGETS, tiny_llama  # noqa: E402
from _variants import load_variant_modules, variant_config  # noqa: E402

from crabplus.lora import (  # noqa: E402
    ILoRAConfig,
    adapter_state_dict,
    balance_loss,
    ilora_layers,
    inject,
    routing_inputs,
)

warnings.filterwarnings("ignore")


class TinyModule(L.LightningModule):
    def __init__(self, config: ILoRAConfig) -> None:
        super().__init__()
        self.model = inject(tiny_llama(seed=0), config)
        self.model.train()

    def training_step(self, batch, batch_idx):
        ids, task_ids = batch
        with routing_inputs(task_ids=task_ids):
            loss = self.model(input_ids=ids, labels=ids).loss
        extra = balance_loss(self.model)
        return loss if extra is None else loss + extra

    def on_after_backward(self) -> None:
        missing = [n for n, p in self.named_parameters() if p.requires_grad and p.grad is None]
        assert not missing, f"parameters without gradient: {missing[:4]}"

    def configure_optimizers(self):
        return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=1e-2)


def run(config: ILoRAConfig, root: str) -> None:
    torch.manual_seed(0)
    module = TinyModule(config)
    start = {k: v.clone() for k, v in adapter_state_dict(module.model).items()}
    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randint(0, 64, (12, 8), generator=g), torch.randint(0, 2, (12,), generator=g))
    trainer = L.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=3, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=root,
    )  # fmt: skip
    trainer.fit(module, DataLoader(data, batch_size=2))
    for key, value in adapter_state_dict(module.model).items():
        gathered = [torch.empty_like(value) for _ in range(2)]
        dist.all_gather(gathered, value.contiguous())
        assert torch.equal(gathered[0], gathered[1]), f"ranks differ on {key}"
    moved = [k for k, v in adapter_state_dict(module.model).items() if not torch.equal(v, start[k])]
    gate_modules = set(next(ilora_layers(module.model))[1].gate_modules())
    assert any(".lora_B." in k for k in moved), moved[:4]
    assert all(any(f".{n}." in k for k in moved) for n in gate_modules), (gate_modules, moved[:4])


def main() -> None:
    out, root, routing = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.set_num_threads(1)
    load_variant_modules()
    # top-1 of 4 heads leaves heads unused in a step; the balance loss moves the router from step 1
    config = variant_config(
        routing, 4, top_k=1, num_tasks=2, dropout=0.1, balance_loss_coef=0.01, target_modules=LLM_TARGETS
    )
    run(config, root)
    if int(os.environ["LOCAL_RANK"]) == 0:
        with open(out, "a") as f:
            f.write(f"{routing} ok\n")
    # an explicit teardown: left to interpreter exit, gloo's threads sometimes abort the process
    # ("terminate called without an active exception") after every check has passed
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
