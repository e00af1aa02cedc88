"""GPU benchmark: a 7B-shaped LM with I-LoRA at Crab+'s settings vs plain LoRA, bf16, in one run.

Measures, for each adapter variant, training tokens/s, model FLOPs utilisation (MFU) and peak memory,
then prints the ratios I-LoRA / LoRA. The LM is Qwen2.5-7B-shaped (hidden 3584, 28 layers, GQA 28/4,
intermediate 18944) with random weights; audio- and vision-encoder-shaped towers (Whisper-large-like
and ViT-like stacks of ``nn.Linear`` blocks) run in front of it so the encoder adapters of Crab+ are timed
too. Without a CUDA device it exits 0 with a message (CI never has one); ``--tiny`` runs the same code on
a small shape on CPU to check the code path.

Usage (on a GPU machine):  python tools/bench_gpu.py [--layers 28] [--seq 2048] [--batch 1] [--steps 10]
                                                   [--json results.json]

Each variant is also estimated by ``crabplus plan``'s memory model (the same model built on the meta
device, activations measured with saved-tensor hooks) and the estimate is printed beside the measured peak.

MFU counts the matmul FLOPs of a frozen-base LoRA step: forward 2·N·T, backward through activations
2·N·T (no weight gradients for frozen W), plus the adapter's own forward/backward (6·N_adapter·T), over the
device's dense bf16 peak (H100 SXM: 989 TFLOP/s; H200 the same; override with ``--peak_tflops``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from torch import nn

from crabplus.lora import ILoRAConfig, inject
from crabplus.plan import GIB, StackLoad, StrategySpec, estimate_memory
from crabplus.plan.activations import saved_bytes
from crabplus.plan.stacks import find_stacks, measure_stack


def build_lm(layers: int, hidden: int, intermediate: int, heads: int, kv_heads: int, vocab: int) -> nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=32768,
        tie_word_embeddings=False,
    )
    return Qwen2ForCausalLM(config)


class EncoderShape(nn.Module):
    """Stand-in encoder: ``depth`` pre-norm blocks with q/k/v/o attention and gate/up/down MLP linears."""

    def __init__(self, depth: int, width: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(depth):
            block = nn.Module()
            block.self_attn = nn.Module()
            for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                setattr(block.self_attn, name, nn.Linear(width, width))
            block.mlp = nn.Module()
            block.mlp.gate_proj = nn.Linear(width, 4 * width)
            block.mlp.up_proj = nn.Linear(width, 4 * width)
            block.mlp.down_proj = nn.Linear(4 * width, width)
            block.norm = nn.LayerNorm(width)
            self.layers.append(block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, width)
        for block in self.layers:
            h = block.norm(x)
            q, k, v = block.self_attn.q_proj(h), block.self_attn.k_proj(h), block.self_attn.v_proj(h)
            attn = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            x = x + block.self_attn.out_proj(attn)
            h = block.norm(x)
            x = x + block.mlp.down_proj(
                torch.nn.functional.silu(block.mlp.gate_proj(h)) * block.mlp.up_proj(h)
            )
        return x


class AVShape(nn.Module):
    """LM + audio/vision encoder shapes, named like crabplus's AVLLM so the adapter patterns apply."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.language_model = build_lm(
            args.layers, args.hidden, args.intermediate, args.heads, args.kv_heads, args.vocab
        )
        self.audio_encoder = EncoderShape(args.enc_layers, args.enc_width)
        self.vision_encoder = EncoderShape(args.enc_layers, args.enc_width)
        self.audio_connector = nn.Linear(args.enc_width, args.hidden)
        self.vision_connector = nn.Linear(args.enc_width, args.hidden)

    def forward(self, audio: torch.Tensor, video: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        a = self.audio_connector(self.audio_encoder(audio))  # (B, Na, d)
        v = self.vision_connector(self.vision_encoder(video))  # (B, Nv, d)
        text = self.language_model.get_input_embeddings()(input_ids)  # (B, Nt, d)
        embeds = torch.cat([v, a, text], dim=1)
        out = self.language_model(inputs_embeds=embeds, use_cache=False)
        return out.logits[:, -input_ids.shape[1] :].float().logsumexp(-1).mean()


def adapter_configs() -> dict[str, ILoRAConfig]:
    llm = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    common = dict(rank=128, alpha=256, dropout=0.1, shared_dropout=True, target_modules=llm)
    encoders = dict(
        encoder_target_modules={
            "audio_encoder": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
            "vision_encoder": ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"],
        }
    )
    return {
        "lora": ILoRAConfig(heads=1, **common, **encoders),
        "ilora": ILoRAConfig(heads=3, **common, **encoders),
    }


def plan_estimate(args: argparse.Namespace, config: ILoRAConfig, dtype: torch.dtype) -> float:
    """``crabplus plan``'s memory model for this benchmark's step (GiB): weights, adapter gradients and AdamW
    states in ``dtype``, no sharding, no autocast; activations measured on the meta device per layer."""
    torch.manual_seed(0)
    with torch.device("meta"):
        model = AVShape(args).to(dtype)
    inject(model, config)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    text = args.seq - args.audio_tokens - args.video_tokens
    loads = []
    for stack, layer, component in find_stacks(model):  # the LM's decoder layers
        measure_stack(stack, layer, component, dtype)
        loads.append(
            StackLoad(
                stack.layer_class, stack.layers, stack.width, stack.bytes_per_token, args.seq, stack.params
            )
        )
    for name, tokens in (("audio_encoder", args.audio_tokens), ("vision_encoder", args.video_tokens)):
        encoder = getattr(model, name)  # stand-in encoder: measured whole, one "layer" of all its blocks
        per_token = saved_bytes(
            encoder, lambda m, x: m(x), tokens, args.enc_width, dtype, input_requires_grad=False
        )
        loads.append(StackLoad(name, 1, args.enc_width, per_token / tokens, tokens, 0))
    # this benchmark's loss: bf16 logits of the whole sequence, fp32 copies of the text part for logsumexp
    # (kept for backward, plus its gradient), the bf16 gradient of the whole logits in the backward
    size = torch.empty(0, dtype=dtype).element_size()
    head = args.vocab * (8 * text + size * args.seq)  # per sample
    estimate = estimate_memory(
        total_params=total, trainable_params=trainable, weight_bytes=size, compute_bytes=size,
        strategy=StrategySpec.named("single", 1), stacks=loads, lm_tokens=args.seq, vocab=args.vocab,
        micro_batch=args.batch, head_bytes=head,
    )  # fmt: skip
    return estimate.total / GIB


def measure(args: argparse.Namespace, config: ILoRAConfig, device: torch.device, dtype: torch.dtype) -> dict:
    torch.manual_seed(0)
    with torch.device(device):
        model = AVShape(args).to(dtype)
    inject(model, config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    base = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    adapter = sum(p.numel() for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    audio = torch.randn(args.batch, args.audio_tokens, args.enc_width, device=device, dtype=dtype)
    video = torch.randn(args.batch, args.video_tokens, args.enc_width, device=device, dtype=dtype)
    ids = torch.randint(
        0, args.vocab, (args.batch, args.seq - args.audio_tokens - args.video_tokens), device=device
    )

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(audio, video, ids).backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    tokens = args.batch * args.seq
    flops = 4 * base * tokens + 6 * adapter * tokens
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return {
        "tokens_per_s": tokens / seconds,
        "mfu": flops / seconds / (args.peak_tflops * 1e12),
        "peak_gib": peak,
        "plan_estimate_gib": plan_estimate(args, config, dtype),
        "adapter_params_m": adapter / 1e6,
        "step_s": seconds,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small shapes on CPU, to check the code path")
    parser.add_argument("--layers", type=int, default=28)
    parser.add_argument("--hidden", type=int, default=3584)
    parser.add_argument("--intermediate", type=int, default=18944)
    parser.add_argument("--heads", type=int, default=28)
    parser.add_argument("--kv_heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=152064)
    parser.add_argument("--enc_layers", type=int, default=4, help="encoder blocks timed (Crab+ has 32 each)")
    parser.add_argument("--enc_width", type=int, default=1280)
    parser.add_argument("--audio_tokens", type=int, default=250)
    parser.add_argument("--video_tokens", type=int, default=640)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak_tflops", type=float, default=989.0)
    parser.add_argument(
        "--json", default=None, help="also write the results (and the device) to this JSON file"
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.layers, args.hidden, args.intermediate, args.heads, args.kv_heads = 2, 128, 256, 4, 2
        args.vocab, args.enc_layers, args.enc_width = 1000, 1, 64
        args.audio_tokens, args.video_tokens, args.seq, args.steps, args.warmup = 8, 8, 64, 2, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available() and not args.tiny:
        print("bench_gpu: no CUDA device; skipped (run on a GPU machine, or --tiny to check the code path)")
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    results = {}
    for name, cfg in adapter_configs().items():
        results[name] = measure(args, cfg, device, dtype)
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the previous variant's model is gone once measure() returns
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"device: {device_name}; dtype {dtype}; LM {args.layers}x{args.hidden}; seq {args.seq} x batch {args.batch}"
    )
    print(
        "| variant | adapter params (M) | step (s) | tokens/s | MFU | peak memory (GiB) | plan estimate (GiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['adapter_params_m']:.1f} | {r['step_s']:.3f} | {r['tokens_per_s']:.0f} | "
            f"{r['mfu']:.1%} | {r['peak_gib']:.2f} | {r['plan_estimate_gib']:.2f} |"
        )
    lora, ilora = results["lora"], results["ilora"]
    print(
        f"ratios I-LoRA / LoRA: step time {ilora['step_s'] / lora['step_s']:.3f}x, "
        f"tokens/s {ilora['tokens_per_s'] / lora['tokens_per_s']:.3f}x, "
        f"peak memory {ilora['peak_gib'] / lora['peak_gib']:.3f}x"
    )
    if args.json:
        record = {"device": device_name, "dtype": str(dtype), "args": vars(args), "results": results,
                  "torch": torch.__version__}  # fmt: skip
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
