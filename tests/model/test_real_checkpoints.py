"""The real presets on real checkpoints laid out like a user's download (tiny sizes, the real classes).

A tiny ``LlamaForCausalLM``, a full ``CLIPModel`` (text + vision, as openai's repositories hold it) and
Crab's audio tower go into ``downloads/<name>/`` with ``save_pretrained``: BEATs as the release's single
``.pt`` (the recipe's default), or a full ``WhisperForConditionalGeneration`` (``audio_tower: whisper``); so
does a tiny ``Qwen2_5OmniThinkerForConditionalGeneration``. ``crab-llama2`` / ``qwen2.5-omni-7b`` load them with
the shipped 8-GPU recipes' adapter and trainable set (only sizes differ), train two steps, and the trained
model comes back from the Lightning checkpoint, from the saved adapter and from Crab's key layout with
identical logits. No network: every path is local.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from tests.helpers.fixed_data import FixedDataModule
from tests.model.test_beats import TINY_CFG, official_state_dict
from transformers import (
    CLIPConfig,
    CLIPModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    WhisperConfig,
    WhisperForConditionalGeneration,
)
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from crabplus.lora import (
    ILoRAConfig,
    crab_state_dict,
    ilora_layers,
    inject,
    load_adapter,
    load_crab_state_dict,
    save_adapter,
)
from crabplus.model import WeightsPathError, build_avllm
from crabplus.model._beats import BEATs
from crabplus.model._tokens import load_tiny_tokenizer
from crabplus.plan.cli import load_config
from crabplus.train import AVLLMModule, OptimizerConfig

REPO = Path(__file__).resolve().parents[2]
SCALE = REPO / "configs" / "scale"


def _save_crab_download(root: Path) -> dict[str, str]:
    """Tiny LLaMA (+ tokenizer), full CLIP and full Whisper checkpoints, in folders named as on the hub."""
    tok = load_tiny_tokenizer()
    torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False,
    ))  # fmt: skip
    llm.save_pretrained(root / "Llama-2-7b-chat-hf")
    tok.save_pretrained(root / "Llama-2-7b-chat-hf")
    CLIPModel(CLIPConfig(
        text_config={"vocab_size": 99, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 2, "num_attention_heads": 2},
        projection_dim=16,
    )).save_pretrained(root / "clip-vit-large-patch14")  # fmt: skip
    WhisperForConditionalGeneration(WhisperConfig(
        num_mel_bins=64, d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, max_source_positions=200,
        max_target_positions=32, vocab_size=99, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1,
    )).save_pretrained(root / "whisper-large-v3")  # fmt: skip
    return {
        "llm_path": str(root / "Llama-2-7b-chat-hf"),
        "vision_path": str(root / "clip-vit-large-patch14"),
        "audio_path": str(root / "whisper-large-v3"),
        "audio_tower": "whisper",  # the option; the recipe's own BEATs: _save_crab_download_beats
    }


def _save_crab_download_beats(root: Path) -> dict[str, str]:
    """The same LLaMA and CLIP, with Crab's own audio tower: a tiny BEATs in the official ``.pt`` layout."""
    paths = _save_crab_download(root)
    beats = root / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
    torch.save({"cfg": TINY_CFG, "model": official_state_dict(TINY_CFG)}, beats)
    return {**paths, "audio_path": str(beats), "audio_tower": "beats"}


def _save_omni_download(root: Path) -> dict[str, str]:
    """A tiny Qwen2.5-Omni thinker (+ tokenizer) saved as a user's local folder."""
    tok = load_tiny_tokenizer()
    config = Qwen2_5OmniThinkerConfig(
        audio_config={"num_mel_bins": 64, "encoder_layers": 2, "encoder_attention_heads": 2,
                      "encoder_ffn_dim": 64, "d_model": 32, "output_dim": 64, "n_window": 100},
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "patch_size": 8,
                       "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 32,
                       "out_hidden_size": 64, "fullatt_block_indexes": [1]},
        text_config={"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "pad_token_id": tok.pad_token_id,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}},
    )  # fmt: skip
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(config).save_pretrained(root / "Qwen2.5-Omni-7B")
    tok.save_pretrained(root / "Qwen2.5-Omni-7B")
    return {"omni_path": str(root / "Qwen2.5-Omni-7B")}


TINY_SIZES = {
    "crab-llama2": dict(num_frames=4, tokens_per_frame=4, audio_windows=4, tokens_per_window=4, mel_frames=400,
                        qformer_dim=32, qformer_heads=2, mask_dim=32),
    "qwen2.5-omni-7b": dict(num_frames=4, frame_size=32, mel_frames=400, audio_pool=10),
}  # fmt: skip
# case -> the download it needs; "crab-llama2" keeps the recipe's own audio tower (BEATs)
DOWNLOADS = {
    "crab-llama2": _save_crab_download_beats,
    "crab-llama2:whisper": _save_crab_download,
    "qwen2.5-omni-7b": _save_omni_download,
}
RECIPES = {"crab-llama2": "crab_llama2_8gpu.yaml", "qwen2.5-omni-7b": "qwen25_omni_7b_8gpu.yaml"}
# Crab's / Crab+'s own module paths (peft-wrapped LLaMA; the transformers-4.51 thinker of Crab+)
CRAB_NAMES = {
    "crab-llama2": [("language_model.", "base_model.model.")],
    "qwen2.5-omni-7b": [
        ("language_model.model.language_model.", "base_model.model.model."),
        ("audio_encoder.", "base_model.model.audio_tower."),
        ("vision_encoder.", "base_model.model.visual."),
    ],
}


def _recipe(preset: str, paths: dict[str, str]) -> dict:
    """The shipped 8-GPU recipe's model arguments, with tiny checkpoints and sizes."""
    init_args = load_config([str(SCALE / RECIPES[preset])])["model"]["init_args"]
    overrides = {**init_args["model_overrides"], **paths, **TINY_SIZES[preset]}
    return {"preset": preset, "model_overrides": overrides, "adapter": init_args["adapter"],
            "trainable": init_args["trainable"]}  # fmt: skip


def _logits(model) -> torch.Tensor:
    spec = model.media_spec
    g = torch.Generator().manual_seed(5)
    video = torch.rand(2, spec["num_frames"], 3, spec["frame_size"], spec["frame_size"], generator=g)
    audio = torch.randn(2, spec["n_mels"], spec["mel_frames"], generator=g) * 0.3
    enc = model.tokenize(["<video> see <audio> hear", "<audio> only"], ["<answer>dog</answer>", "cat"])
    model.eval()
    with torch.no_grad():
        return model(**enc, video=video, audio=audio).logits


def _crab_layout(model, preset: str) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in crab_state_dict(model).items():
        old, new = next((o, n) for o, n in CRAB_NAMES[preset] if key.startswith(o))
        renamed[new + key[len(old) :]] = value
    return renamed


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("case", list(DOWNLOADS))
def test_download_trains_two_steps_and_reloads_identically(case, tmp_path):
    preset = case.split(":")[0]
    recipe = _recipe(preset, DOWNLOADS[case](tmp_path / "downloads"))
    module = AVLLMModule(**recipe, optimizer=OptimizerConfig(lr=1e-2, warmup_ratio=0.0))
    assert type(module.model.language_model).__name__ in {
        "LlamaForCausalLM", "Qwen2_5OmniThinkerForConditionalGeneration"
    }  # fmt: skip
    if preset == "crab-llama2":  # the full downloads were cut to the parts the preset needs
        assert type(module.model.vision_encoder).__name__ == "CLIPVisionModel"
        expected_audio = BEATs if case == "crab-llama2" else WhisperEncoder
        assert type(module.model.audio_encoder) is expected_audio
    before = {n: p.detach().clone() for n, p in module.model.named_parameters() if p.requires_grad}
    trainer = L.Trainer(
        accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        limit_val_batches=0, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(module, FixedDataModule(module.model.media_spec, count=4, batch_size=2))
    changed = [
        n for n, p in module.model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])
    ]
    assert any(".lora_B." in n for n in changed)  # B starts at zero: two steps moved it
    trained = _logits(module.model)

    # 1. the Lightning checkpoint (trainable parts only) into a model rebuilt from the same download
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    rebuilt = AVLLMModule.load_from_checkpoint(tmp_path / "last.ckpt", weights_only=False)
    assert torch.equal(_logits(rebuilt.model), trained)

    # 2. the adapter directory (+ connectors, which Crab's unified stage trains too) into a fresh preset build
    save_adapter(module.model, tmp_path / "adapter")
    fresh = build_avllm(preset, **recipe["model_overrides"])
    load_adapter(fresh, tmp_path / "adapter")
    for name in ("vision_connector", "audio_connector"):
        getattr(fresh, name).load_state_dict(getattr(module.model, name).state_dict())
    assert torch.equal(_logits(fresh), trained)

    # 3. Crab's / Crab+'s checkpoint key layout
    crab_keys = _crab_layout(module.model, preset)
    assert all(k.startswith("base_model.model.") for k in crab_keys)
    fresh = build_avllm(preset, **recipe["model_overrides"])
    inject(fresh, ILoRAConfig(**recipe["adapter"]))
    loaded = load_crab_state_dict(fresh, crab_keys)
    assert len(loaded["loaded"]) == len(list(ilora_layers(fresh))) and not loaded["ignored"]
    for name in ("vision_connector", "audio_connector"):
        getattr(fresh, name).load_state_dict(getattr(module.model, name).state_dict())
    assert torch.equal(_logits(fresh), trained)


@pytest.mark.integration
def test_missing_and_weightless_downloads_stop_with_one_line(tmp_path):
    missing = tmp_path / "nowhere" / "Qwen2.5-Omni-7B"
    with pytest.raises(WeightsPathError) as err:
        build_avllm("qwen2.5-omni-7b", omni_path=str(missing))
    assert str(err.value) == (
        f"model_overrides.omni_path: {missing} does not exist; put the downloaded folder there or give a hub id"
    )
    paths = _save_crab_download(tmp_path / "downloads")
    for weights in Path(paths["vision_path"]).glob("*.safetensors"):
        weights.unlink()  # config.json without weights: an interrupted download
    with pytest.raises(
        WeightsPathError, match=r"^model_overrides\.vision_path: .* has config\.json but no weights"
    ):
        build_avllm("crab-llama2", **paths)
