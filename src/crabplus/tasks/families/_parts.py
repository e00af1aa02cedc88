"""Answer-part helpers shared by the task families: labels from text, event lists from event/span runs."""

from __future__ import annotations

from collections.abc import Iterable

from crabplus.answer import SPAN_DECIMALS, Event, Part, Span, Text, normalise_text
from crabplus.tasks._base import Reject

__all__ = ["text_of", "only", "events_from_parts", "event_parts", "canonical_events", "label", "seconds"]


def label(value: str) -> str:
    """A label in the canonical whitespace form the answer text carries."""
    return normalise_text(str(value))


def only(parts: list[Part], allowed: tuple[type, ...], what: str) -> None:
    """Reject parts of other kinds than ``allowed``."""
    for part in parts:
        if not isinstance(part, allowed):
            raise Reject(f"{what}: unexpected {type(part).__name__}")


def text_of(parts: list[Part], what: str) -> str:
    """All plain-text parts joined by a space; rejects an answer without text."""
    words = [p.text for p in parts if isinstance(p, Text)]
    if not words:
        raise Reject(f"{what}: no text")
    return " ".join(words)


def events_from_parts(parts: Iterable[Part], what: str) -> list[list]:
    """``[[label, s, e], ...]`` from ``<event>l</event><span>s,e</span>…`` runs (text is ignored).

    Every span belongs to the latest event; an event needs at least one span.
    """
    events: list[list] = []
    current: str | None = None
    has_span = True
    for part in parts:
        if isinstance(part, Text):
            continue
        if isinstance(part, Event):
            if not has_span:
                raise Reject(f"{what}: event {current!r} without a span")
            current, has_span = part.label, False
        elif isinstance(part, Span):
            if current is None:
                raise Reject(f"{what}: span before any event")
            events.append([current, part.start, part.end])
            has_span = True
        else:
            raise Reject(f"{what}: unexpected {type(part).__name__}")
    if not has_span:
        raise Reject(f"{what}: event {current!r} without a span")
    return events


def event_parts(events: Iterable) -> list[Part]:
    """Parts of an event list: each ``[label, s, e]`` as ``<event>label</event><span>s,e</span>``."""
    out: list[Part] = []
    for lab, s, e in events:
        out += [Event(label(lab)), Span(float(s), float(e))]
    return out


def canonical_events(events: Iterable) -> list[list]:
    """Event list with canonical labels and times on the 0.1-s grid of the answer text."""
    return [[label(lab), *seconds(s, e)] for lab, s, e in events]


def seconds(start: float, end: float) -> list[float]:
    """A span as the answer text carries it: floats on the 0.1-s grid."""
    return [round(float(start), SPAN_DECIMALS), round(float(end), SPAN_DECIMALS)]
