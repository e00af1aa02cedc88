"""Worker of test_scale_configs.py: wrap the tiny-modular module with torch FSDP on one CPU process.

Lightning's FSDPStrategy refuses CPU, but torch's FSDP runs on CPU with gloo, which is enough to check on
a real model what the GPU run depends on: the policy makes one unit per transformer layer, frozen and
trainable parameters share units (use_orig_params=True), and ``on_save_checkpoint`` keeps every
trainable parameter of the full state dict although FSDP and activation checkpointing renamed the
parameters in place. Prints one JSON line for the test.
"""

from __future__ import annotations

import json
import os

import torch
import torch.distributed as dist
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing
from torch.distributed.fsdp import FullStateDictConfig, StateDictType
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from crabplus.train import AVLLMModule
from crabplus.train.strategies import LayerWrapPolicy


def main() -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{os.environ['INIT_FILE']}", rank=0, world_size=1)
    # mask_head off: its 0-d bias is a scalar parameter, which FSDP rejects (reported to the model owner)
    module = AVLLMModule(
        preset="tiny-modular",
        model_overrides={"mask_head": False},
        adapter={"heads": 2, "rank": 2, "alpha": 4},
    )
    expected = sorted(f"model.{n}" for n, p in module.model.named_parameters() if p.requires_grad)
    policy = LayerWrapPolicy()
    wrapped = FSDP(module, auto_wrap_policy=policy, use_orig_params=True, device_id=torch.device("cpu"))
    apply_activation_checkpointing(wrapped, auto_wrap_policy=LayerWrapPolicy(["LlamaDecoderLayer"]))
    renamed = sum(1 for n, _ in module.model.named_parameters() if "_fsdp_wrapped_module" in n)
    with FSDP.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=True)):
        checkpoint = {"state_dict": wrapped.state_dict()}
    module.on_save_checkpoint(checkpoint)
    units = [type(m.module).__name__ for m in wrapped.modules() if isinstance(m, FSDP)]
    print(
        json.dumps(
            {
                "units": units,
                "renamed": renamed,
                "kept": sorted(checkpoint["state_dict"]),
                "expected": expected,
            }
        )
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
