"""The unified answer interface: structured answer parts ⇄ answer text with special tokens.

Every task writes its target as answer text in one grammar and reads model output back with one parser, so
there is no per-task string handling anywhere else::

    answer   := [<think> text </think>] <answer> body </answer>
    body     := (text | event | span | box | point | <mask> | group)*
    event    := <event> label </event>
    span     := <span> s,e </span>            seconds, 0 <= s <= e, 1 decimal   (grid: 0.1 s)
    box      := <box> x1,y1,x2,y2 </box>       normalised 0-1, x1<=x2, y1<=y2, 2 decimals (grid: 0.01)
    point    := <point> x,y </point>           normalised 0-1, 2 decimals (grid: 0.01)
    group    := <audio_events> body </audio_events> | <visual_events> body </visual_events>

Groups carry the per-modality event lists of video parsing (``<audio>`` itself is the audio placeholder,
hence the longer names). Text before ``<answer>`` (other than ``<think>``) and after ``</answer>`` is
ignored, so a model may write reasoning prose in front of its answer, as Crab's training targets do.

Round trip: ``parse_answer(format_answer(parts))`` gives back ``parts`` exactly when every number lies on
its grid (``round(v, 1) == v`` for spans, ``round(v, 2) == v`` for boxes and points) and every text/label
is whitespace-normalised (no leading/trailing blanks, single inner spaces, no ``<`` or ``>``). Off-grid
values are rounded to the grid when formatted: the text can only carry grid values.

``parse_answer`` never raises: malformed model output (missing tags, unclosed tags, bad numbers, boxes out
of range) gives an :class:`Unparseable` carrying the text and a reason; metrics count it as wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SPAN_DECIMALS",
    "BOX_DECIMALS",
    "SPECIAL_TOKENS",
    "GROUP_NAMES",
    "Text",
    "Event",
    "Span",
    "Box",
    "Point",
    "MaskToken",
    "Group",
    "Part",
    "Parsed",
    "Unparseable",
    "format_answer",
    "parse_answer",
    "normalise_text",
    "is_unparseable",
    "unparseable_dict",
]

SPAN_DECIMALS = 1
"""Spans are written in seconds with one decimal: the 0.1-s grid."""
BOX_DECIMALS = 2
"""Boxes and points are written normalised to [0, 1] with two decimals: the 0.01 grid."""
GROUP_NAMES = ("audio_events", "visual_events")
_LEAF_TAGS = ("event", "span", "box", "point")
SPECIAL_TOKENS = (
    "<think>", "</think>", "<answer>", "</answer>", "<event>", "</event>", "<span>", "</span>",
    "<box>", "</box>", "<point>", "</point>", "<mask>",
    "<audio_events>", "</audio_events>", "<visual_events>", "</visual_events>",
)  # fmt: skip
"""Tokens of the answer grammar, for the tokenizer (the model adds them as special tokens)."""

_TAG_RE = re.compile(r"<(/?)(think|answer|event|span|box|point|mask|audio_events|visual_events)>")
_NUMBER_RE = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*$")
_MAX_TEXT = 1_000_000  # longer model output is refused rather than regex-scanned


@dataclass(frozen=True)
class Text:
    """Free text (a label, an answer word, a caption)."""

    text: str


@dataclass(frozen=True)
class Event:
    """An event/class label, ``<event>label</event>``."""

    label: str


@dataclass(frozen=True)
class Span:
    """A time interval in seconds, ``<span>s,e</span>``."""

    start: float
    end: float


@dataclass(frozen=True)
class Box:
    """A box in normalised image coordinates (x right, y down), ``<box>x1,y1,x2,y2</box>``."""

    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Point:
    """A point in normalised image coordinates, ``<point>x,y</point>`` (prompts for a segmenter)."""

    x: float
    y: float


@dataclass(frozen=True)
class MaskToken:
    """The ``<mask>`` token: its hidden state feeds the mask head."""


@dataclass(frozen=True)
class Group:
    """A named list of parts, e.g. the audio event list of video parsing."""

    name: str
    parts: tuple[Part, ...]


Part = Text | Event | Span | Box | Point | MaskToken | Group


@dataclass(frozen=True)
class Parsed:
    """A parsed answer: the answer parts in order and the optional reasoning text."""

    parts: tuple[Part, ...]
    reasoning: str | None = None


@dataclass(frozen=True)
class Unparseable:
    """Model output that does not follow the grammar; metrics score it as wrong."""

    text: str
    reason: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        """The plain-dict form stored in predictions: ``{"unparseable": True, "text", "reason"}``."""
        return unparseable_dict(self.text, self.reason)


def unparseable_dict(text: str, reason: str) -> dict[str, Any]:
    """The plain-dict unparseable prediction (what ``Task.parse`` returns on junk)."""
    return {"unparseable": True, "text": text, "reason": reason}


def is_unparseable(prediction: Any) -> bool:
    """True for an :class:`Unparseable`, an unparseable dict, or anything that is not a dict."""
    if isinstance(prediction, Unparseable):
        return True
    return not isinstance(prediction, dict) or bool(prediction.get("unparseable", False))


def normalise_text(text: str) -> str:
    """Collapse whitespace runs to one space and strip: the canonical form of labels and answers."""
    return " ".join(text.split())


# ---------------------------------------------------------------- formatting


def _fmt(value: float, decimals: int) -> str:
    return f"{float(value):.{decimals}f}"


def _check_text(text: str) -> str:
    if "<" in text or ">" in text:
        raise ValueError(f"answer text may not contain '<' or '>': {text!r}")
    return normalise_text(text)


def _format_part(part: Part) -> str:
    if isinstance(part, Text):
        return _check_text(part.text)
    if isinstance(part, Event):
        return f"<event>{_check_text(part.label)}</event>"
    if isinstance(part, Span):
        return f"<span>{_fmt(part.start, SPAN_DECIMALS)},{_fmt(part.end, SPAN_DECIMALS)}</span>"
    if isinstance(part, Box):
        xs = ",".join(_fmt(v, BOX_DECIMALS) for v in (part.x1, part.y1, part.x2, part.y2))
        return f"<box>{xs}</box>"
    if isinstance(part, Point):
        return f"<point>{_fmt(part.x, BOX_DECIMALS)},{_fmt(part.y, BOX_DECIMALS)}</point>"
    if isinstance(part, MaskToken):
        return "<mask>"
    if isinstance(part, Group):
        if part.name not in GROUP_NAMES:
            raise ValueError(f"unknown group {part.name!r}; valid: {GROUP_NAMES}")
        return f"<{part.name}>{_join(part.parts)}</{part.name}>"
    raise TypeError(f"not an answer part: {part!r}")


def _join(parts: tuple[Part, ...] | list[Part]) -> str:
    """Join parts; plain text is separated from its neighbours by one space, tags are glued."""
    out = ""
    prev_text = False
    for part in parts:
        piece = _format_part(part)
        is_text = isinstance(part, Text)
        if out and (is_text or prev_text):
            out += " "
        out += piece
        prev_text = is_text
    return out


def format_answer(parts: list[Part] | tuple[Part, ...], reasoning: str | None = None) -> str:
    """Write answer parts (and optional reasoning) as answer text.

    Raises:
        ValueError: on text containing ``<``/``>`` or an unknown group name (our own data is wrong).
    """
    think = f"<think>{_check_text(reasoning)}</think>" if reasoning else ""
    return f"{think}<answer>{_join(parts)}</answer>"


# ---------------------------------------------------------------- parsing


class _ParseError(Exception):
    pass


def _numbers(body: str, count: int, tag: str) -> list[float]:
    pieces = body.split(",")
    if len(pieces) != count or not all(_NUMBER_RE.match(p) for p in pieces):
        raise _ParseError(f"<{tag}> needs {count} comma-separated numbers, got {body[:40]!r}")
    values = [float(p) for p in pieces]
    if not all(math.isfinite(v) for v in values):
        raise _ParseError(f"<{tag}> has a non-finite number")
    return values


def _leaf(tag: str, body: str) -> Part:
    if tag == "event":
        label = normalise_text(body)
        if not label:
            raise _ParseError("empty <event>")
        return Event(label)
    if tag == "span":
        s, e = _numbers(body, 2, tag)
        if not 0 <= s <= e:
            raise _ParseError(f"<span> needs 0 <= start <= end, got {s},{e}")
        return Span(round(s, SPAN_DECIMALS), round(e, SPAN_DECIMALS))
    values = _numbers(body, 4 if tag == "box" else 2, tag)
    if not all(0.0 <= v <= 1.0 for v in values):
        raise _ParseError(f"<{tag}> coordinates must lie in [0, 1]")
    values = [round(v, BOX_DECIMALS) for v in values]
    if tag == "point":
        return Point(*values)
    if values[0] > values[2] or values[1] > values[3]:
        raise _ParseError("<box> needs x1 <= x2 and y1 <= y2")
    return Box(*values)


def _parse_body(text: str, pos: int, end: int, group: str | None) -> tuple[tuple[Part, ...], int]:
    """Parse answer-body parts from ``text[pos:end]``; stops at ``</group>`` when inside a group."""
    parts: list[Part] = []
    while True:
        match = _TAG_RE.search(text, pos, end)
        stop = match.start() if match else end
        chunk = normalise_text(text[pos:stop])
        if chunk:
            parts.append(Text(chunk))
        if match is None:
            if group is not None:
                raise _ParseError(f"unclosed <{group}>")
            return tuple(parts), end
        closing, tag = match.group(1) == "/", match.group(2)
        pos = match.end()
        if closing:
            if tag == group:
                return tuple(parts), pos
            raise _ParseError(f"unexpected </{tag}>")
        if tag == "mask":
            parts.append(MaskToken())
        elif tag in GROUP_NAMES:
            if group is not None:
                raise _ParseError(f"<{tag}> nested in <{group}>")
            inner, pos = _parse_body(text, pos, end, tag)
            parts.append(Group(tag, inner))
        elif tag in _LEAF_TAGS:
            close = text.find(f"</{tag}>", pos, end)
            if close < 0 or _TAG_RE.search(text, pos, close):
                raise _ParseError(f"unclosed <{tag}>")
            parts.append(_leaf(tag, text[pos:close]))
            pos = close + len(tag) + 3
        else:
            raise _ParseError(f"<{tag}> inside the answer")


def _reasoning(text: str, answer_start: int) -> str | None:
    start = text.find("<think>", 0, answer_start)
    if start < 0:
        return None
    close = text.find("</think>", start, answer_start)
    if close < 0:
        raise _ParseError("unclosed <think>")
    return normalise_text(text[start + 7 : close]) or None


def _parse(text: str) -> Parsed:
    start = text.find("<answer>")
    if start < 0:
        raise _ParseError("no <answer>")
    end = text.find("</answer>", start)
    if end < 0:
        raise _ParseError("unclosed <answer>")
    reasoning = _reasoning(text, start)
    parts, _ = _parse_body(text, start + 8, end, None)
    return Parsed(parts, reasoning)


def parse_answer(text: Any) -> Parsed | Unparseable:
    """Parse answer text; never raises. Anything off-grammar gives :class:`Unparseable` with a reason."""
    if not isinstance(text, str):
        return Unparseable(repr(text)[:200], f"not a string: {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        return Unparseable(text[:200], "text too long")
    try:
        return _parse(text)
    except _ParseError as err:
        return Unparseable(text, str(err))
    except Exception as err:  # noqa: BLE001 - belt and braces: the parser contract is "never raises"
        return Unparseable(text, f"internal parser error: {type(err).__name__}: {err}")
