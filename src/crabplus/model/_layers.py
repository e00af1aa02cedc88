"""The transformer layer classes of every preset's parts, by class name.

One table serves two readers: FSDP's wrap policy (``crabplus.train.strategies``: one unit per layer) and
``crabplus plan`` (one activation measurement per stack of such layers). Names, not imports, so a config
can name a layer without importing transformers' model files.
"""

from __future__ import annotations

__all__ = ["LAYER_MODULES"]

#: transformer layer class name -> the transformers module defining it (presets: crab-llama2 uses Llama
#: + CLIP/SigLIP + Whisper; qwen2.5-omni-7b the Omni thinker's decoder, audio and vision layers; Qwen2
#: covers Qwen2-based LMs).
LAYER_MODULES: dict[str, str] = {
    "LlamaDecoderLayer": "transformers.models.llama.modeling_llama",
    "Qwen2DecoderLayer": "transformers.models.qwen2.modeling_qwen2",
    "CLIPEncoderLayer": "transformers.models.clip.modeling_clip",
    "SiglipEncoderLayer": "transformers.models.siglip.modeling_siglip",
    "WhisperEncoderLayer": "transformers.models.whisper.modeling_whisper",
    "Qwen2_5OmniDecoderLayer": "transformers.models.qwen2_5_omni.modeling_qwen2_5_omni",
    "Qwen2_5OmniAudioEncoderLayer": "transformers.models.qwen2_5_omni.modeling_qwen2_5_omni",
    "Qwen2_5OmniVisionBlock": "transformers.models.qwen2_5_omni.modeling_qwen2_5_omni",
}
