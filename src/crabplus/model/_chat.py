"""Chat formats of the real presets: a pretrained chat LM expects its own turn markers around a prompt.

Crab wraps every instruction in LLaMA-2's chat format with the system message "You are a helpful
assistant." and ends the answer with ``</s>``; Crab+ uses Qwen2.5-Omni's ChatML (``<|im_start|>role …
<|im_end|>``) with the stock Qwen system prompt. The prompt is rendered by the tokenizer's own
``apply_chat_template``; a download whose tokenizer has no template (early LLaMA-2 chat uploads) gets the
one below, written from the format's public description.
"""

from __future__ import annotations

__all__ = ["CHATML_TEMPLATE", "CRAB_SYSTEM", "LLAMA2_CHAT_TEMPLATE", "QWEN_OMNI_SYSTEM", "chat_prompt"]

CRAB_SYSTEM = "You are a helpful assistant."
QWEN_OMNI_SYSTEM = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving "
    "auditory and visual inputs, as well as generating text and speech."
)

#: LLaMA-2 chat: ``<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s>`` (system in turn 1).
LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set system = none %}{% set turns = messages %}{% endif %}"
    "{% for m in turns %}"
    "{% if m['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' }}"
    "{% if loop.first and system is not none %}{{ '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' }}{% endif %}"
    "{{ m['content'] | trim }}{{ ' [/INST]' }}"
    "{% elif m['role'] == 'assistant' %}{{ ' ' }}{{ m['content'] | trim }}{{ ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)

#: ChatML (Qwen): ``<|im_start|>{role}\n{content}<|im_end|>\n`` per turn, then ``<|im_start|>assistant\n``.
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def chat_prompt(tokenizer, system: str, prompt: str) -> str:
    """The text the LM sees before its answer: ``system`` and the user ``prompt`` through its chat template."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
