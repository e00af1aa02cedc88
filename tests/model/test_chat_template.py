"""Real presets wrap prompts in their chat template; labels stay on the answer (+ EOS) only.

Expected sequences are the chat formats written out by hand (LLaMA-2 ``[INST] <<SYS>>``, Qwen ChatML) and
tokenised directly; the presets run their real loading code on tiny checkpoints in a temporary folder.
"""

from __future__ import annotations

import pytest

from crabplus.model import build_avllm
from crabplus.model._chat import CHATML_TEMPLATE, LLAMA2_CHAT_TEMPLATE
from crabplus.model._splice import IGNORE_INDEX
from crabplus.model._tokens import load_tiny_tokenizer

PROMPT, ANSWER = "  Is the <video> loud? <audio> ", "<answer>yes</answer>"


@pytest.mark.unit
def test_llama2_template_by_hand() -> None:
    tok = load_tiny_tokenizer()
    tok.chat_template = LLAMA2_CHAT_TEMPLATE
    turns = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": " u1 "},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
    ]
    text = tok.apply_chat_template(turns, tokenize=False)
    assert text == "<|bos|>[INST] <<SYS>>\nS\n<</SYS>>\n\nu1 [/INST] a1 <|eos|><|bos|>[INST] u2 [/INST]"


@pytest.mark.unit
def test_chatml_template_by_hand() -> None:
    tok = load_tiny_tokenizer()
    tok.chat_template = CHATML_TEMPLATE
    turns = [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]
    text = tok.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n"


def _check_tokens(model, expected_prompt: str) -> None:
    tok = model.tokenizer
    enc = model.tokenize([PROMPT], [ANSWER])
    prompt_ids = tok(expected_prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tok(ANSWER, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert enc["input_ids"][0].tolist() == prompt_ids + answer_ids
    assert enc["labels"][0].tolist() == [IGNORE_INDEX] * len(prompt_ids) + answer_ids
    gen = model.tokenize([PROMPT])  # generation sees the same prompt, ending where the answer starts
    assert gen["input_ids"][0].tolist() == prompt_ids


@pytest.mark.integration
def test_crab_llama2_prompts_use_the_llama2_chat_format(tmp_path, crab_llama2_from_parts) -> None:
    ref = build_avllm("tiny-modular", connector="qformer")
    # ref's tokenizer has no chat template: the preset supplies LLaMA-2's
    model = crab_llama2_from_parts(ref, tmp_path)
    assert model.config.system_prompt == "You are a helpful assistant."
    expected = "<|bos|>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nIs the <video> loud? <audio> [/INST]"
    _check_tokens(model, expected)


@pytest.mark.integration
def test_qwen_omni_prompts_use_the_tokenizer_template(tmp_path) -> None:
    ref = build_avllm("tiny-omni")
    ref.language_model.save_pretrained(tmp_path / "omni")
    ref.tokenizer.chat_template = "{{ messages[0]['content'] }}|{{ messages[1]['content'] }}|A:"
    ref.tokenizer.save_pretrained(tmp_path / "omni")  # the download's own template wins over ChatML
    model = build_avllm("qwen2.5-omni-7b", omni_path=str(tmp_path / "omni"), mask_dim=32)
    _check_tokens(model, f"{model.config.system_prompt}|{PROMPT}|A:")
    assert model.config.system_prompt.startswith("You are Qwen, a virtual human")

    (tmp_path / "omni" / "chat_template.jinja").unlink(missing_ok=True)
    ref.tokenizer.chat_template = None
    ref.tokenizer.save_pretrained(tmp_path / "plain")
    ref.language_model.save_pretrained(tmp_path / "plain")
    model = build_avllm("qwen2.5-omni-7b", omni_path=str(tmp_path / "plain"), mask_dim=32)
    system = model.config.system_prompt
    expected = f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n"
    _check_tokens(model, expected)
