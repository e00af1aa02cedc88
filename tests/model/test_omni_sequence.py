"""qwen2.5-omni-7b builds the sequence Qwen2_5OmniProcessor builds, and the thinker's own M-RoPE positions.

A tiny thinker and a tokenizer holding Qwen2.5-Omni's media tokens (the shipped tiny tokenizer plus those
tokens, built offline) are saved as a user's download; the preset loads them. For the same clip the
library's processor expands ``<|VIDEO|>`` / ``<|AUDIO|>`` / ``<|IMAGE|>`` and ``get_rope_index`` gives the
positions; our tokenize + splice must give the same ids and positions. torchvision cannot be installed,
so the processor's video processor is a stand-in that returns Qwen2-VL's grid (frames / temporal patch,
side / patch); the expansion, the wrappers and the positions are the library's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    AutoTokenizer,
    BatchFeature,
    Qwen2_5OmniProcessor,
    Qwen2VLImageProcessor,
    WhisperFeatureExtractor,
)

from crabplus.data.sample import MediaSpec, audio_features
from crabplus.model import build_avllm
from crabplus.model._chat import QWEN_OMNI_SYSTEM
from crabplus.model._tokens import OMNI_MEDIA_TOKENS, load_tiny_tokenizer

PROCESSOR_NAMES = {
    "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>", "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>", "image_token": "<|IMAGE|>", "video_token": "<|VIDEO|>",
    "audio_token": "<|AUDIO|>",
}  # fmt: skip
FRAMES, SIDE, SECONDS = 4, 32, 4.0


class _VideoGrid:
    """Stand-in for Qwen2VLVideoProcessor (needs torchvision): Qwen2-VL's grid of unresized frames."""

    temporal_patch_size, merge_size, patch_size = 2, 2, 8

    def __call__(self, videos, **kwargs) -> BatchFeature:
        grids = [
            [len(v) // self.temporal_patch_size, v.shape[1] // self.patch_size, v.shape[2] // self.patch_size]
            for v in videos
        ]
        return BatchFeature({"pixel_values_videos": torch.zeros(1), "video_grid_thw": torch.tensor(grids)})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("Qwen2.5-Omni-7B")
    tok = load_tiny_tokenizer()
    tok.add_special_tokens(
        {"additional_special_tokens": sorted({t for block in OMNI_MEDIA_TOKENS.values() for t in block})},
        replace_extra_special_tokens=False,
    )
    thinker = build_avllm("tiny-omni").language_model
    thinker.resize_token_embeddings(len(tok))
    ids = tok.convert_tokens_to_ids
    cfg = thinker.config
    cfg.image_token_id, cfg.video_token_id, cfg.audio_token_id = (
        ids("<|IMAGE|>"),
        ids("<|VIDEO|>"),
        ids("<|AUDIO|>"),
    )
    cfg.vision_start_token_id, cfg.vision_end_token_id = ids("<|vision_bos|>"), ids("<|vision_eos|>")
    cfg.audio_start_token_id, cfg.audio_end_token_id = ids("<|audio_bos|>"), ids("<|audio_eos|>")
    thinker.save_pretrained(root)
    tok.save_pretrained(root)
    model = build_avllm(
        "qwen2.5-omni-7b",
        omni_path=str(root),
        num_frames=FRAMES,
        frame_size=SIDE,
        mel_frames=400,
        mask_dim=32,
    ).eval()
    ptok = AutoTokenizer.from_pretrained(str(root), extra_special_tokens=PROCESSOR_NAMES)
    check = Qwen2_5OmniProcessor.check_argument_for_proper_class
    Qwen2_5OmniProcessor.check_argument_for_proper_class = (  # the stand-in is no registered class
        lambda self, name, arg: None if name == "video_processor" else check(self, name, arg)
    )
    try:
        processor = Qwen2_5OmniProcessor(
            image_processor=Qwen2VLImageProcessor(
                do_resize=False, patch_size=8, temporal_patch_size=2, merge_size=2
            ),
            video_processor=_VideoGrid(),
            feature_extractor=WhisperFeatureExtractor(feature_size=64),
            tokenizer=ptok,
        )
    finally:
        Qwen2_5OmniProcessor.check_argument_for_proper_class = check
    return model, processor


def _chat(user: str) -> str:
    return (
        f"<|im_start|>system\n{QWEN_OMNI_SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


CASES = {
    "video with audio": ("<video><audio>What is making the sound?", ("video", "audio")),
    "audio only": ("<audio>What is making the sound?", ("audio",)),
    "image": ("<image>Where is the sounding object?", ("image",)),
}
NATIVE = {"<video>": "<|vision_bos|><|VIDEO|><|vision_eos|>", "<audio>": "<|audio_bos|><|AUDIO|><|audio_eos|>",
          "<image>": "<|vision_bos|><|IMAGE|><|vision_eos|>"}  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize("case", list(CASES))
def test_ids_and_positions_equal_the_processor_and_get_rope_index(setup, case: str) -> None:
    model, processor = setup
    prompt, modalities = CASES[case]
    rng = np.random.default_rng(3)
    wave = rng.uniform(-0.5, 0.5, int(SECONDS * 16000)).astype(np.float32)
    video = rng.integers(0, 256, (FRAMES, SIDE, SIDE, 3)).astype(np.uint8)
    image = rng.integers(0, 256, (SIDE, SIDE, 3)).astype(np.uint8)
    user = prompt
    for ours, native in NATIVE.items():
        user = user.replace(ours, native)
    kwargs = {
        "video": {"videos": [video], "fps": FRAMES / SECONDS},
        "audio": {"audio": [wave]},
        "image": {"images": [image]},
    }
    proc_kw = {k: v for m in modalities for k, v in kwargs[m].items()}
    expected = processor(text=[_chat(user)], return_tensors="pt", **proc_kw)

    media = {
        "video": torch.from_numpy(video).permute(0, 3, 1, 2)[None].float() / 255,
        "audio": torch.randn(1, 64, 400),  # only the count of frames shapes the sequence
        "image": torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255,
    }
    enc = model.tokenize([prompt])
    with torch.no_grad():
        sp, pos, _ = model.prepare_inputs(
            enc["input_ids"], enc["attention_mask"], **{m: media[m] for m in modalities}
        )
    assert sp.input_ids.tolist() == expected["input_ids"].tolist()

    seqlens = expected["feature_attention_mask"].sum(-1) if "audio" in modalities else None
    rope, _ = model.language_model.get_rope_index(
        expected["input_ids"],
        image_grid_thw=expected.get("image_grid_thw"),
        video_grid_thw=expected.get("video_grid_thw"),
        attention_mask=expected["attention_mask"],
        audio_seqlens=seqlens,
        second_per_grids=expected.get("video_second_per_grid"),
    )
    assert torch.equal(pos, rope)


@pytest.mark.integration
def test_audio_features_equal_the_processor_features(setup) -> None:
    """The data side's features for this preset's media spec are the processor's, frame for frame."""
    model, processor = setup
    wave = np.random.default_rng(4).uniform(-0.5, 0.5, int(SECONDS * 16000)).astype(np.float32)
    spec = MediaSpec.from_model(model.media_spec)
    assert (spec.chunk_samples, spec.feature_frames) == (30 * 16000, 400)
    out = processor(text=[_chat(NATIVE["<audio>"])], audio=[wave], return_tensors="pt")
    expected = out["input_features"][0][:, out["feature_attention_mask"][0].bool()]  # (64, 400)
    ours = audio_features(torch.from_numpy(wave), spec)
    assert ours.shape == expected.shape
    assert float((ours - expected).abs().max()) <= 1e-4
