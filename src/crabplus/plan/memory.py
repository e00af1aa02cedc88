"""Per-device memory of one training step: weights, gradients, optimizer states, activations.

Model of the step (bytes; P parameters, P_t trainable, n devices, b micro-batch, w weight bytes, c compute
bytes, V vocabulary, L LM tokens per sample):

- weights: P·w, divided by n when the strategy shards parameters (FSDP full shard, DeepSpeed stage 3),
  plus the gathered unit of a sharded model (largest layer, c bytes, twice for the prefetched next one).
  DeepSpeed keeps the module in the compute dtype (P·c) and fp32 masters of the trainable part.
- gradients: P_t·w (divided by n when sharded: FSDP, DeepSpeed stage 2/3);
  optimizer: AdamW's two states, 2·P_t·w (sharded by FSDP and every DeepSpeed stage).
- autocast copies: under ``bf16-mixed`` with fp32 weights and no FSDP, every frozen linear's bf16 copy
  made in the forward is saved for the backward (2·P of the stacks that save activations).
- activations per sample: for each layer stack, layers × saved bytes per token (measured on the meta
  device, ``activations.py``) × its tokens; with activation checkpointing only each layer's input
  (width·c per token) stays, plus one layer recomputed. The LM head adds L·V·h bytes: bf16 logits, their
  fp32 copy and the fp32 log-softmax kept for the loss (h = 10; 16 in fp32), and the backward of the
  deepest layer needs about one more layer's worth of activations (``workspace``).

Not counted: the CUDA context and allocator fragmentation (~1-2 GiB on a GPU); ``fits`` keeps that margin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["GIB", "MemoryEstimate", "StrategySpec", "estimate_memory"]

GIB = 2**30
RESERVE_GIB = 2.0  # CUDA context + fragmentation, kept free when judging "fits"


@dataclass(frozen=True)
class StrategySpec:
    """How a strategy spreads the state over ``devices`` (see module docstring)."""

    name: str
    devices: int = 1
    shard_params: bool = False
    shard_grads: bool = False
    shard_optimizer: bool = False
    deepspeed: bool = False
    fsdp: bool = False

    @classmethod
    def named(cls, name: str, devices: int) -> StrategySpec:
        """``single``/``ddp``, ``fsdp`` (full shard), ``fsdp_shard_grad_op``, ``deepspeed_stage_{1,2,3}``."""
        n = max(devices, 1)
        table = {
            "single": cls("single", 1),
            "ddp": cls("ddp", n),
            "fsdp": cls("fsdp", n, True, True, True, fsdp=True),
            "fsdp_shard_grad_op": cls("fsdp_shard_grad_op", n, False, True, True, fsdp=True),
            "deepspeed_stage_1": cls("deepspeed_stage_1", n, False, False, True, deepspeed=True),
            "deepspeed_stage_2": cls("deepspeed_stage_2", n, False, True, True, deepspeed=True),
            "deepspeed_stage_3": cls("deepspeed_stage_3", n, True, True, True, deepspeed=True),
        }
        if name not in table:
            raise ValueError(f"strategy {name!r}; valid: {sorted(table)}")
        return table[name]


@dataclass
class StackLoad:
    """One layer stack as the estimate needs it: saved bytes per token per layer, tokens per sample."""

    name: str
    layers: int
    width: int
    bytes_per_token: float
    tokens: int
    params: int


@dataclass
class MemoryEstimate:
    """Bytes per device; ``*_ac`` with activation checkpointing on every stack."""

    weights: float
    gradients: float
    optimizer: float
    autocast_copies: float
    activations: float
    activations_ac: float
    head: float
    workspace: float
    micro_batch: int

    @property
    def persistent(self) -> float:
        return self.weights + self.gradients + self.optimizer

    @property
    def total(self) -> float:
        return (
            self.persistent
            + self.autocast_copies
            + self.micro_batch * (self.activations + self.head + self.workspace)
        )

    @property
    def total_ac(self) -> float:
        return (
            self.persistent
            + self.autocast_copies
            + self.micro_batch * (self.activations_ac + self.head + self.workspace)
        )

    def fits(self, device_gib: float, checkpointing: bool) -> bool:
        return (self.total_ac if checkpointing else self.total) / GIB <= device_gib - RESERVE_GIB

    def to_dict(self) -> dict[str, float]:
        out = {k: v / GIB for k, v in asdict(self).items() if k != "micro_batch"}
        out.update(total=self.total / GIB, total_ac=self.total_ac / GIB, micro_batch=self.micro_batch)
        return out


def estimate_memory(
    *,
    total_params: int,
    trainable_params: int,
    weight_bytes: int,
    compute_bytes: int,
    strategy: StrategySpec,
    stacks: list[StackLoad],
    lm_tokens: int,
    vocab: int,
    micro_batch: int = 1,
    autocast: bool = False,
    largest_unit_params: int = 0,
    head_bytes: float | None = None,
) -> MemoryEstimate:
    """The estimate of one training step per device (module docstring lists the terms).

    ``head_bytes`` replaces the LM-head term when a caller's loss differs from crabplus's (a benchmark).
    """
    n = strategy.devices
    if strategy.deepspeed:  # module in compute dtype, fp32 masters of the trainable part with the optimizer
        weights = total_params * compute_bytes
        weights = weights / n if strategy.shard_params else weights
        grads = trainable_params * 4 / (n if strategy.shard_grads else 1)
        optimizer = trainable_params * 12 / n  # master copy + two AdamW states
    else:
        weights = total_params * weight_bytes / (n if strategy.shard_params else 1)
        grads = trainable_params * weight_bytes / (n if strategy.shard_grads else 1)
        optimizer = 2 * trainable_params * weight_bytes / (n if strategy.shard_optimizer else 1)
    if strategy.shard_params:
        weights += 2 * largest_unit_params * compute_bytes
    copies = 0.0
    if autocast and weight_bytes > compute_bytes and not strategy.fsdp and not strategy.deepspeed:
        copies = sum(s.params for s in stacks if s.bytes_per_token > 0) * compute_bytes
    full = sum(s.layers * s.bytes_per_token * s.tokens for s in stacks)
    ac = sum(s.layers * s.width * compute_bytes * s.tokens for s in stacks if s.bytes_per_token > 0)
    one_layer = max((s.bytes_per_token * s.tokens for s in stacks), default=0.0)
    head = head_bytes if head_bytes is not None else lm_tokens * vocab * (10 if compute_bytes == 2 else 16)
    return MemoryEstimate(
        weights=weights,
        gradients=grads,
        optimizer=optimizer,
        autocast_copies=copies,
        activations=full,
        activations_ac=ac + one_layer,
        head=head,
        workspace=one_layer,
        micro_batch=micro_batch,
    )
