"""``AVLLM``: encoders -> connectors -> placeholder splicing -> causal LM (+ optional mask head).

Notation: B batch, L text length, L' spliced length, N_m tokens of modality m, d LM width, S mask side.

Submodule names are a contract (adapter injection patterns and modality balancing match on them):
``language_model``, ``vision_encoder``, ``audio_encoder``, ``vision_connector``, ``audio_connector``,
``mask_head``. In the omni paradigm the encoders *are* the thinker's towers (shared modules); they
are registered before ``language_model`` so ``named_parameters()`` lists them under the encoder names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from crabplus.lora import routing_inputs
from crabplus.model._chat import chat_prompt
from crabplus.model._config import AVLLMConfig
from crabplus.model._feature_cache import FeatureCache
from crabplus.model._length_groups import grouped_hidden
from crabplus.model._mask_head import mask_loss
from crabplus.model._media import Encoded, unit_pixels
from crabplus.model._modular import ModularMedia
from crabplus.model._omni import OmniMedia
from crabplus.model._splice import IGNORE_INDEX, Spliced, detect_padding_side, splice
from crabplus.model._tokens import MASK_TOKEN, PLACEHOLDERS, omni_media_ids

__all__ = ["AVLLM", "AVLLMOutput", "LOGITS_MODES", "LOSS_REDUCTIONS", "answer_token_loss", "causal_lm_loss"]

LOSS_REDUCTIONS = ("token", "sample")
LOGITS_MODES = ("all", "answers")


@dataclass(kw_only=True)
class AVLLMOutput:
    """Result of ``AVLLM.forward``.

    Attributes:
        loss: LM loss (+ weighted mask loss) or None without labels.
        logits: (B, L', V), or None when ``forward(logits="answers")`` computed them at answer positions only.
        hidden_states: (B, L', d) last LM layer (after the final norm).
        labels: (B, L') expanded labels (-100 on media, prompt and padding) or None.
        modality_ids: (B, L') 0 text, 1 video, 2 audio, 3 image.
        attention_mask: (B, L') after splicing.
        mask_logits: (B, S, S) or None when no sample has a ``<mask>`` token (or no mask head).
        mask_present: (B,) bool, samples whose sequence holds ``<mask>``, or None.
        lm_loss / mask_loss: the two loss terms (None when not computed).
        token_loss: (B, L'-1) next-token CE, 0 where the label is ignored; set by ``logits="answers"``
            (per-task and per-sequence losses read it instead of ``logits``), else None.
    """

    loss: torch.Tensor | None
    logits: torch.Tensor
    hidden_states: torch.Tensor
    labels: torch.Tensor | None
    modality_ids: torch.Tensor
    attention_mask: torch.Tensor
    mask_logits: torch.Tensor | None = None
    mask_present: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    mask_loss: torch.Tensor | None = None
    token_loss: torch.Tensor | None = None


def _native_media_ids(tokenizer, lm_config) -> dict[str, tuple[int, int, int]]:
    """The thinker's (start, media, end) ids per modality; they must agree with its config where it names them."""
    native = omni_media_ids(tokenizer)
    if native is None:
        raise ValueError(
            "native_media_tokens: the tokenizer lacks Qwen2.5-Omni's <|vision_bos|>/<|VIDEO|>/… tokens"
        )
    fields = {"video": ("vision_start_token_id", "video_token_id", "vision_end_token_id"),
              "image": ("vision_start_token_id", "image_token_id", "vision_end_token_id"),
              "audio": ("audio_start_token_id", "audio_token_id", "audio_end_token_id")}  # fmt: skip
    for modality, names in fields.items():
        for name, token_id in zip(names, native[modality]):
            expected = getattr(lm_config, name, None)
            if expected is not None and expected != token_id:
                raise ValueError(
                    f"native_media_tokens: thinker config {name}={expected}, tokenizer says {token_id}"
                )
    return native


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "token") -> torch.Tensor:
    """Next-token cross-entropy over answer tokens (labels != -100). (B, L', V), (B, L') -> ()

    ``reduction="token"``: mean over all answer tokens of the batch (HF's convention); a sample weighs as
    much as its answer is long. ``"sample"``: mean over each sample's answer tokens, then over the samples
    that have any; in a multitask batch a one-word label then weighs as much as a 60-token event list.
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"loss reduction {reduction!r}; valid: {', '.join(LOSS_REDUCTIONS)}")
    shift_logits = logits[:, :-1].float()  # (B, L'-1, V)
    shift_labels = labels[:, 1:]  # (B, L'-1)
    answer = shift_labels != IGNORE_INDEX  # (B, L'-1)
    if not bool(answer.any()):
        return shift_logits.sum() * 0.0  # keeps the graph; no answer tokens in this batch
    if reduction == "token":
        return F.cross_entropy(shift_logits.flatten(0, 1), shift_labels.flatten(), ignore_index=IGNORE_INDEX)
    token_loss = F.cross_entropy(
        shift_logits.transpose(1, 2), shift_labels, ignore_index=IGNORE_INDEX, reduction="none"
    )  # (B, L'-1), 0 where ignored
    counts = answer.sum(1)  # (B,)
    has = counts > 0
    return (token_loss.sum(1)[has] / counts[has]).mean()


def answer_token_loss(
    hidden: torch.Tensor, labels: torch.Tensor, head: nn.Module, reduction: str = "token"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss of ``causal_lm_loss`` with the LM head applied at answer positions only.

    Why: most of a multimodal sequence is media, prompt and padding, whose logits the loss never reads;
    the head (d x V) and the log-softmax over V at those positions are a large share of a small LM's step.

    Args:
        hidden: (B, L', d) last hidden states (after the final norm).
        labels: (B, L') labels, -100 where ignored.
        head: the LM's output embedding (d -> V).
        reduction: as in ``causal_lm_loss``.

    Returns:
        (loss (), token_loss (B, L'-1) with the CE of each answer token, 0 elsewhere).
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"loss reduction {reduction!r}; valid: {', '.join(LOSS_REDUCTIONS)}")
    shift_labels = labels[:, 1:]  # (B, L'-1)
    answer = shift_labels != IGNORE_INDEX  # (B, L'-1)
    rows, cols = answer.nonzero(as_tuple=True)  # (n,) answer tokens; hidden at t predicts label t + 1
    logits = head(hidden[rows, cols]).float()  # (n, V)
    ce = F.cross_entropy(logits, shift_labels[rows, cols], reduction="none")  # (n,)
    token_loss = torch.zeros(answer.shape, dtype=ce.dtype, device=ce.device).index_put((rows, cols), ce)
    if rows.numel() == 0:
        return logits.sum() * 0.0, token_loss  # keeps the graph; no answer tokens in this batch
    if reduction == "token":
        return ce.mean(), token_loss
    counts = answer.sum(1)  # (B,)
    has = counts > 0
    return (token_loss.sum(1)[has] / counts[has]).mean(), token_loss


def _unchanged(x: torch.Tensor) -> torch.Tensor:
    return x


class AVLLM(nn.Module):
    """Audio-visual LLM (plain ``nn.Module``; build with ``crabplus.model.build_avllm``)."""

    def __init__(
        self,
        config: AVLLMConfig,
        language_model: nn.Module,
        tokenizer: Any,
        vision_encoder: nn.Module | None = None,
        audio_encoder: nn.Module | None = None,
        vision_connector: nn.Module | None = None,
        audio_connector: nn.Module | None = None,
        mask_head: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.vision_encoder = vision_encoder
        self.audio_encoder = audio_encoder
        self.vision_connector = vision_connector
        self.audio_connector = audio_connector
        self.language_model = language_model
        self.mask_head = mask_head
        self.feature_cache: FeatureCache | None = (
            None  # frozen encoder outputs by sample (set by the trainer)
        )
        if config.paradigm == "omni":
            self.media = OmniMedia(config, vision_encoder, audio_encoder, language_model.config)
        else:
            self.media = ModularMedia(config, vision_encoder)
        self.placeholder_ids = {m: tokenizer.convert_tokens_to_ids(t) for m, t in PLACEHOLDERS.items()}
        self.media_blocks: dict[int, list[int]] = {}  # prompt placeholder id -> the ids it becomes
        if config.native_media_tokens:
            native = _native_media_ids(tokenizer, language_model.config)
            self.media_blocks = {self.placeholder_ids[m]: list(ids) for m, ids in native.items()}
            self.placeholder_ids = {m: ids[1] for m, ids in native.items()}  # splice where the thinker would
        self.mask_token_id = tokenizer.convert_tokens_to_ids(MASK_TOKEN)
        embeddings = language_model.get_input_embeddings()
        if embeddings.num_embeddings < len(tokenizer):
            # mean-initialised new rows need real values; a meta-device model (``init: meta``) has none
            language_model.resize_token_embeddings(
                len(tokenizer), mean_resizing=embeddings.weight.device.type != "meta"
            )

    # ------------------------------------------------------------------ public info
    @property
    def media_spec(self) -> dict[str, Any]:
        """Media format the data side must produce: num_frames, frame_size, n_mels, mel_frames, sample_rate…"""
        return self.config.media_spec()

    @property
    def media_token_counts(self) -> dict[str, int]:
        """LM tokens each placeholder expands to, per modality (for sequence-length budgeting)."""
        return self.media.token_counts()

    def modality_parameters(self) -> dict[str, list[nn.Parameter]]:
        """All parameters of each modality's encoder + connector (frozen ones included; filter on requires_grad).

        Adapter parameters injected under the encoders are included, because they live under those modules.
        "video" covers images too (same encoder and connector).
        """
        groups = {
            "video": (self.vision_encoder, self.vision_connector),
            "audio": (self.audio_encoder, self.audio_connector),
        }
        out: dict[str, list[nn.Parameter]] = {}
        for name, modules in groups.items():
            seen: dict[int, nn.Parameter] = {}
            for module in modules:
                if module is not None:
                    seen.update({id(p): p for p in module.parameters()})
            out[name] = list(seen.values())
        return out

    # ------------------------------------------------------------------ text
    def tokenize(
        self, prompts: list[str], answers: list[str] | None = None, padding_side: str = "right"
    ) -> dict[str, torch.Tensor]:
        """Prompt (+ answer + eos) -> input_ids, attention_mask, labels (-100 on prompt and padding). (B, L)

        With ``config.chat_template`` the prompt is the chat-template rendering of the system and user turns
        (tokenised apart from the answer, as Crab does), so the labels still cover the answer and EOS only.
        """
        if answers is not None and len(answers) != len(prompts):
            raise ValueError(f"tokenize: {len(prompts)} prompts but {len(answers)} answers")
        tok = self.tokenizer
        bos = [tok.bos_token_id] if self.config.add_bos and tok.bos_token_id is not None else []
        if self.config.chat_template:  # the template places BOS and the turn markers itself
            bos, prompts = [], [chat_prompt(tok, self.config.system_prompt, p) for p in prompts]
        # one tokenizer call per list (a call per text cost ~0.1 ms each, 2 ms of a demo step)
        prompt_ids = tok(list(prompts), add_special_tokens=False)["input_ids"]
        answer_ids = (
            tok(list(answers), add_special_tokens=False)["input_ids"] if answers is not None else None
        )
        rows: list[tuple[list[int], list[int]]] = []
        for i, ids in enumerate(prompt_ids):
            ids = bos + ids
            if self.media_blocks:
                ids = [j for t in ids for j in self.media_blocks.get(t, [t])]
            labels = [IGNORE_INDEX] * len(ids)
            if answer_ids is not None:
                answer = answer_ids[i] + [tok.eos_token_id]
                ids, labels = ids + answer, labels + answer
            rows.append((ids, labels))
        return self._pad(rows, padding_side)

    def _pad(self, rows: list[tuple[list[int], list[int]]], side: str) -> dict[str, torch.Tensor]:
        if side not in ("left", "right"):
            raise ValueError(f"padding_side={side!r}; valid: 'left', 'right'")
        L = max(len(ids) for ids, _ in rows)
        pad = self.tokenizer.pad_token_id
        out = {
            k: torch.full((len(rows), L), v, dtype=torch.long)
            for k, v in (("input_ids", pad), ("attention_mask", 0), ("labels", IGNORE_INDEX))
        }
        for b, (ids, labels) in enumerate(rows):
            sl = slice(L - len(ids), L) if side == "left" else slice(0, len(ids))
            out["input_ids"][b, sl] = torch.tensor(ids)
            out["attention_mask"][b, sl] = 1
            out["labels"][b, sl] = torch.tensor(labels)
        return out

    # ------------------------------------------------------------------ media
    def encode_media(
        self,
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
        media_keys: list[str] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, Encoded]]:
        """Encode present modalities -> ({m: (B, N_m, d) LM-width tokens}, {m: raw ``Encoded``}).

        ``video``/``image``: uint8 as the loaders send them, or floats in [0, 1].

        Encoders run inside ``routing_inputs(task_ids=task_ids)`` (no per-token modality ids there: every
        token of an encoder has that encoder's modality), so task-routed adapters in encoders work too.
        With ``self.feature_cache`` set and ``media_keys`` given (one per sample), a frozen encoder's
        outputs come from the cache where it has them (``crabplus.model._feature_cache``).
        """
        feats: dict[str, torch.Tensor] = {}
        encoded: dict[str, Encoded] = {}
        plan = (
            ("video", video, self.vision_encoder, self.vision_connector, self.media.encode_video),
            ("image", image, self.vision_encoder, self.vision_connector, self.media.encode_image),
            ("audio", audio, self.audio_encoder, self.audio_connector, self.media.encode_audio),
        )
        for name, x, encoder, connector, encode in plan:
            if x is None:
                continue
            if encoder is None:
                raise ValueError(f"'{name}' was given but this model has no encoder for it")
            # frames and images: (B, [T,] 3, S, S) uint8 from the loaders, scaled to [0, 1] after the cache
            # has keyed them (a quarter of the bytes to hash)
            prepare = unit_pixels if name != "audio" else _unchanged
            with routing_inputs(task_ids=task_ids, modality_ids=None):
                cache = self.feature_cache
                if cache is not None and media_keys is not None and cache.usable(name, encoder):
                    run = lambda v, e=encoder, f=encode, p=prepare: f(e, p(v))  # noqa: E731
                    encoded[name] = cache.encode(name, encoder, x, media_keys, run)
                else:
                    encoded[name] = encode(encoder, prepare(x))
            feats[name] = connector(encoded[name].groups)  # (B, N_m, d)
        return feats, encoded

    def prepare_inputs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
        media_keys: list[str] | None = None,
    ) -> tuple[Spliced, torch.Tensor, dict[str, Encoded]]:
        """Encode, splice and compute LM position ids ((B, L') or (3, B, L') for M-RoPE)."""
        feats, encoded = self.encode_media(video, audio, image, task_ids, media_keys)
        embed = self.language_model.get_input_embeddings()
        sp = splice(
            input_ids, attention_mask, labels, feats, self.placeholder_ids, embed, self.tokenizer.pad_token_id
        )
        grids = {m: e.grid for m, e in encoded.items()}
        return sp, self.media.position_ids(sp.attention_mask, sp.modality_ids, grids), encoded

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        logits: str = "all",
        media_keys: list[str] | None = None,
        length_groups: int = 1,
    ) -> AVLLMOutput:
        """Teacher-forced forward; loss = CE over answer tokens (``config.loss_reduction``) (+ mask loss when
        ``mask`` is given).

        ``logits="answers"`` (with labels) applies the LM head at answer positions only: the same loss,
        ``output.logits`` None and ``output.token_loss`` set; there ``length_groups`` > 1 runs the LM on up
        to that many groups of rows of similar length (``crabplus.model._length_groups``: less padding, the
        same loss; ``output.hidden_states`` is 0 on padding). ``media_keys`` (one per sample) let a
        ``feature_cache`` reuse frozen encoder outputs (see ``encode_media``).
        """
        if logits not in LOGITS_MODES:
            raise ValueError(f"forward(logits={logits!r}); valid: {', '.join(LOGITS_MODES)}")
        sp, position_ids, encoded = self.prepare_inputs(
            input_ids, attention_mask, labels, video, audio, image, task_ids, media_keys
        )
        sparse = logits == "answers" and sp.labels is not None and self._head_split() is not None
        token_loss = None
        with routing_inputs(task_ids=task_ids, modality_ids=sp.modality_ids):
            if sparse:
                decoder, head = self._head_split()
                hidden = self._decoder_hidden(
                    decoder, sp, position_ids, task_ids, length_groups
                )  # (B, L', d)
                lm_loss, token_loss = answer_token_loss(hidden, sp.labels, head, self.config.loss_reduction)
                out_logits = None
            else:
                out = self.language_model(
                    inputs_embeds=sp.inputs_embeds,
                    attention_mask=sp.attention_mask,
                    position_ids=position_ids,
                    output_hidden_states=True,
                    use_cache=False,
                )
                hidden, out_logits = out.hidden_states[-1], out.logits  # (B, L', d), (B, L', V)
                lm_loss = (
                    causal_lm_loss(out_logits, sp.labels, self.config.loss_reduction)
                    if sp.labels is not None
                    else None
                )
        size = tuple(mask.shape[-2:]) if mask is not None else (self.config.frame_size,) * 2
        mask_logits, present = self.mask_logits(hidden, sp.input_ids, sp.attention_mask, encoded, size)
        m_loss = None
        if mask is not None and mask_logits is not None and bool(present.any()):
            cfg = self.config
            if (
                mask.dtype == torch.bool
                and int(self._mask_counts(sp.input_ids, sp.attention_mask).max()) <= 1
            ):
                m_loss = mask_loss(
                    mask_logits[present], mask[present], cfg.mask_bce_weight, cfg.mask_dice_weight
                )
            else:  # class-index maps (semantic) or several <mask> per answer
                logits, targets = self.every_mask(hidden, sp.input_ids, sp.attention_mask, encoded, mask)
                m_loss = mask_loss(logits, targets, cfg.mask_bce_weight, cfg.mask_dice_weight)
        loss = lm_loss
        if m_loss is not None:
            loss = (
                m_loss * self.config.mask_loss_weight
                if loss is None
                else loss + m_loss * self.config.mask_loss_weight
            )
        return AVLLMOutput(
            loss=loss,
            logits=out_logits,
            hidden_states=hidden,
            labels=sp.labels,
            modality_ids=sp.modality_ids,
            attention_mask=sp.attention_mask,
            mask_logits=mask_logits,
            mask_present=present,
            lm_loss=lm_loss,
            mask_loss=m_loss,
            token_loss=token_loss,
        )

    def _decoder_hidden(
        self, decoder: nn.Module, sp: Spliced, position_ids: torch.Tensor, task_ids, max_groups: int
    ) -> torch.Tensor:
        """Last hidden states (B, L', d) of the LM body, per length group (``max_groups`` 1: one call).

        A right-padded group whose positions count 0, 1, ... runs without its padding mask: under the causal
        mask a real token only sees earlier tokens, which are real, so its output is unchanged, and the
        attention kernel takes its causal path (about half the work of an explicit mask on CPU). Padding
        positions then get arbitrary finite values; the loss never reads them. Other positions (M-RoPE) keep
        the mask. A left-padded batch, or an adapter's router balance loss (it reads the last call only),
        keeps one masked call.
        """
        mask = sp.attention_mask
        balanced = any(getattr(m, "balance_coef", 0) > 0 for m in decoder.modules())
        if balanced or detect_padding_side(mask) != "right":
            return decoder(
                inputs_embeds=sp.inputs_embeds,
                attention_mask=mask,
                position_ids=position_ids,
                use_cache=False,
            ).last_hidden_state
        steps = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # (B, L')
        counting = position_ids.dim() == 2 and bool(((position_ids == steps) | ~mask.bool()).all())

        def run(rows: torch.Tensor, length: int) -> torch.Tensor:
            ids = task_ids[rows] if task_ids is not None else None
            with routing_inputs(task_ids=ids, modality_ids=sp.modality_ids[rows, :length]):
                return decoder(
                    inputs_embeds=sp.inputs_embeds[rows, :length],
                    attention_mask=None if counting else mask[rows, :length],
                    position_ids=steps[rows, :length] if counting else position_ids[..., rows, :length],
                    use_cache=False,
                ).last_hidden_state

        return grouped_hidden(run, mask, max(max_groups, 1))

    def _head_split(self) -> tuple[nn.Module, nn.Module] | None:
        """(decoder, head) of a causal LM whose logits are ``head(decoder(...).last_hidden_state)``; None
        when the LM does not expose both (then the full-logits path runs)."""
        lm = self.language_model
        try:
            decoder, head = lm.get_decoder(), lm.get_output_embeddings()
        except (AttributeError, NotImplementedError):
            return None
        if decoder is None or head is None or decoder is lm:
            return None
        return decoder, head

    def mask_logits(
        self,
        hidden: torch.Tensor,
        ids: torch.Tensor,
        attention_mask: torch.Tensor,
        encoded: dict[str, Encoded],
        size: tuple[int, int],
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Mask logits (B, S, S) from the hidden state at each sample's first ``<mask>`` (else its last token).

        Patch features come from the image when given, else from frame ``mask_source_frame`` of the video.
        Returns (None, None) without a mask head, without visual input or when no sample has ``<mask>``.
        """
        is_mask = (ids == self.mask_token_id) & attention_mask.bool()  # (B, L')
        present = is_mask.any(1)  # (B,)
        source = encoded.get("image") or encoded.get("video")
        if self.mask_head is None or source is None or not bool(present.any()):
            return None, None
        last = attention_mask.shape[1] - 1 - attention_mask.flip(1).long().argmax(1)  # (B,) last real token
        pos = torch.where(present, is_mask.long().argmax(1), last)  # (B,)
        h = hidden[torch.arange(hidden.shape[0], device=hidden.device), pos]  # (B, d)
        feats = self.media.mask_features(source, self.config.mask_source_frame)  # (B, P, c)
        return self.mask_head(h, feats, size), present

    def _mask_counts(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B,) number of ``<mask>`` tokens per sequence."""
        return ((ids == self.mask_token_id) & attention_mask.bool()).sum(1)

    def every_mask(
        self,
        hidden: torch.Tensor,
        ids: torch.Tensor,
        attention_mask: torch.Tensor,
        encoded: dict[str, Encoded],
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and binary targets (M, S, S) of every ``<mask>`` token in the batch.

        ``mask`` (B, S, S) holds class indices (0 = background; a bool mask is class 1). The k-th ``<mask>``
        of a sample is the mask of its k-th foreground class in index order (the semantic answer names the
        classes in that order); a ``<mask>`` beyond its sample's classes gets an empty target.
        """
        b_idx, pos = ((ids == self.mask_token_id) & attention_mask.bool()).nonzero(as_tuple=True)  # (M,)
        source = encoded.get("image") or encoded.get("video")
        feats = self.media.mask_features(source, self.config.mask_source_frame)[b_idx]  # (M, P, c)
        logits = self.mask_head(hidden[b_idx, pos], feats, tuple(mask.shape[-2:]))  # (M, S, S)
        classes = mask.long()
        targets = torch.zeros_like(logits, dtype=torch.bool)
        seen: dict[int, int] = {}
        for m, b in enumerate(b_idx.tolist()):
            k = seen.get(b, 0)
            seen[b] = k + 1
            present = torch.unique(classes[b])
            present = present[present != 0]
            if k < len(present):
                targets[m] = classes[b] == present[k]
        return logits, targets

    # ------------------------------------------------------------------ generation / io
    @torch.no_grad()
    def generate(
        self,
        prompts: list[str],
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
        max_new_tokens: int = 64,
        media_keys: list[str] | None = None,
    ) -> list[str]:
        """Greedy decoding (left padding); text keeps grammar tokens, drops special ones."""
        from crabplus.model._generate import greedy_generate

        return greedy_generate(
            self, prompts, video, audio, image, task_ids, max_new_tokens, media_keys=media_keys
        ).texts

    @torch.no_grad()
    def generate_with_masks(
        self,
        prompts: list[str],
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        task_ids: torch.Tensor | None = None,
        max_new_tokens: int = 64,
        media_keys: list[str] | None = None,
    ) -> tuple[list[str], list[torch.Tensor | None]]:
        """Greedy decoding plus, per sample whose output holds ``<mask>``, a (S, S) float mask probability map."""
        from crabplus.model._generate import greedy_generate

        result = greedy_generate(
            self,
            prompts,
            video,
            audio,
            image,
            task_ids,
            max_new_tokens,
            with_masks=True,
            media_keys=media_keys,
        )
        return result.texts, result.masks

    def save_pretrained(self, directory: str) -> None:
        """Save config (json), tokenizer, HF sub-models and connectors/mask head (safetensors)."""
        from crabplus.model._io import save_avllm

        save_avllm(self, directory)
