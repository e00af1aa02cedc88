"""Tiny random models for the I-LoRA tests (no downloads): a Llama, and an AV wrapper with a Whisper
audio encoder and a CLIP vision encoder named as in crabplus's AVLLM."""

from __future__ import annotations

import torch
import torch.nn as nn
from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM, WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from crabplus.lora import routing_inputs

HIDDEN = 32
VOCAB = 64
LLM_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
ENCODER_TARGETS = {
    "audio_encoder": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
    "vision_encoder": ["mlp.fc1", "mlp.fc2"],
}


def tiny_llama(seed: int = 0, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    return LlamaForCausalLM(config).float().eval()


class TinyAV(nn.Module):
    """language_model / audio_encoder / vision_encoder; media tokens are prepended to the text."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.language_model = tiny_llama(seed)
        torch.manual_seed(seed + 1)
        self.audio_encoder = WhisperEncoder(
            WhisperConfig(d_model=HIDDEN, encoder_layers=1, encoder_attention_heads=4, encoder_ffn_dim=48,
                          num_mel_bins=8, max_source_positions=8, decoder_layers=1, vocab_size=VOCAB,
                          pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3)
        )  # fmt: skip
        self.vision_encoder = CLIPVisionModel(
            CLIPVisionConfig(hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=1,
                             num_attention_heads=4, image_size=16, patch_size=8)
        )  # fmt: skip
        self.eval()

    def forward(self, input_ids: torch.Tensor, audio: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        a = self.audio_encoder(audio).last_hidden_state  # (B, 8, d)
        v = self.vision_encoder(pixel_values=image).last_hidden_state  # (B, 5, d)
        text = self.language_model.get_input_embeddings()(input_ids)  # (B, L, d)
        embeds = torch.cat([v, a, text], dim=1)
        modality = torch.cat(
            [
                torch.full(v.shape[:2], 1),
                torch.full(a.shape[:2], 2),
                torch.zeros(input_ids.shape, dtype=torch.long),
            ],
            1,
        )
        with routing_inputs(modality_ids=modality):
            return self.language_model(inputs_embeds=embeds).logits


def av_inputs(batch: int = 2, length: int = 6, seed: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "input_ids": torch.randint(0, VOCAB, (batch, length), generator=g),
        "audio": torch.randn(batch, 8, 16, generator=g),
        "image": torch.rand(batch, 3, 16, 16, generator=g),
    }


@torch.no_grad()
def randomize(module: nn.Module, std: float = 0.2, seed: int = 7) -> None:
    """Fill every floating parameter with N(0, std²) values (adapter B_i non-zero)."""
    g = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.copy_(torch.randn(p.shape, generator=g) * std)
