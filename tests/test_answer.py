"""The answer grammar: exact examples, lossless round trip on the grids, and a parser that never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crabplus.answer import (
    SPECIAL_TOKENS,
    Box,
    Event,
    Group,
    MaskToken,
    Parsed,
    Point,
    Span,
    Text,
    Unparseable,
    format_answer,
    is_unparseable,
    normalise_text,
    parse_answer,
)

pytestmark = pytest.mark.unit

# ---- strategies: canonical part lists (on-grid numbers, normalised text, no adjacent text parts) ----------
words = st.text(
    st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), min_size=1, max_size=12
)
labels = words.map(normalise_text).filter(bool)
tenths = st.integers(0, 100_000).map(lambda k: k / 10)
hundredths = st.integers(0, 100).map(lambda k: k / 100)
spans = st.tuples(tenths, tenths).map(lambda p: Span(min(p), max(p)))
boxes = st.tuples(hundredths, hundredths, hundredths, hundredths).map(
    lambda v: Box(min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3]))
)
points = st.tuples(hundredths, hundredths).map(lambda v: Point(*v))
leaves = st.one_of(labels.map(Text), labels.map(Event), spans, boxes, points, st.just(MaskToken()))


def canonical(parts: list) -> tuple:
    """Merge adjacent text parts, as the text itself cannot separate them."""
    out: list = []
    for part in parts:
        if isinstance(part, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + " " + part.text)
        else:
            out.append(part)
    return tuple(out)


groups = st.tuples(st.sampled_from(["audio_events", "visual_events"]), st.lists(leaves, max_size=5)).map(
    lambda g: Group(g[0], canonical(g[1]))
)
bodies = st.lists(st.one_of(leaves, groups), max_size=8).map(canonical)


@given(parts=bodies, reasoning=st.none() | labels)
@settings(max_examples=300, deadline=None)
def test_round_trip_is_lossless_on_the_grid(parts: tuple, reasoning: str | None) -> None:
    assert parse_answer(format_answer(parts, reasoning)) == Parsed(parts, reasoning)


def test_exact_text() -> None:
    parts = [
        Text("dog barking"),
        Event("dog"),
        Span(2, 6.5),
        Box(0.12, 0.3, 0.55, 0.9),
        Point(0.5, 0.25),
        MaskToken(),
    ]
    text = format_answer(parts, "it barks")
    assert text == (
        "<think>it barks</think><answer>dog barking <event>dog</event><span>2.0,6.5</span>"
        "<box>0.12,0.30,0.55,0.90</box><point>0.50,0.25</point><mask></answer>"
    )
    group = format_answer([Group("audio_events", (Event("dog"), Span(0, 1))), Group("visual_events", ())])
    assert (
        group
        == "<answer><audio_events><event>dog</event><span>0.0,1.0</span></audio_events><visual_events></visual_events></answer>"
    )


def test_off_grid_values_are_rounded_to_the_grid() -> None:
    assert parse_answer(format_answer([Span(1.26, 2.04)])).parts == (Span(1.3, 2.0),)
    assert parse_answer(format_answer([Box(0.123, 0, 0.5, 1)])).parts == (Box(0.12, 0.0, 0.5, 1.0),)


def test_lenient_surroundings() -> None:
    # prose before <answer> and junk after </answer> are ignored; whitespace is normalised
    parsed = parse_answer("The dog barks. So the answer is <answer>  dog \n </answer></s> trailing")
    assert parsed == Parsed((Text("dog"),), None)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("dog", "no <answer>"),
        ("<answer>dog", "unclosed <answer>"),
        ("<answer><event>dog</answer>", "unclosed <event>"),
        ("<answer><span>3,1</span></answer>", "start <= end"),
        ("<answer><span>1,nan</span></answer>", "numbers"),
        ("<answer><span>-1,2</span></answer>", "start <= end"),
        ("<answer><box>0.5,0.5,0.2,0.9</box></answer>", "x1 <= x2"),
        ("<answer><box>0,0,1.5,1</box></answer>", "[0, 1]"),
        ("<answer><box>0,0,1</box></answer>", "numbers"),
        ("<answer><event></event></answer>", "empty <event>"),
        ("<answer></event></answer>", "unexpected </event>"),
        ("<answer><audio_events><visual_events></visual_events></audio_events></answer>", "nested"),
        ("<answer><think>x</think></answer>", "<think> inside"),
        ("<think>x<answer>a</answer>", "unclosed <think>"),
        (None, "not a string"),
    ],
)
def test_malformed_text_is_unparseable(text: str, reason: str) -> None:
    result = parse_answer(text)
    assert isinstance(result, Unparseable) and reason in result.reason
    assert result.to_dict()["unparseable"] is True and is_unparseable(result.to_dict())


def test_format_refuses_grammar_characters() -> None:
    with pytest.raises(ValueError, match="may not contain"):
        format_answer([Text("a <b")])


fragments = st.sampled_from(
    [*SPECIAL_TOKENS, "</mask>", "<answer", "answer>", ",", "1", "0.5", "-3", "1e309", "nan", "inf", " ", "\n",
     "dog", "<", ">", "/", "<span>1,2", "<box>0,0,1,1</box>", "\x00", "é", "9" * 400]
)  # fmt: skip
adversarial = st.lists(fragments, max_size=30).map("".join)


@given(text=st.text(max_size=300) | adversarial)
@settings(max_examples=500, deadline=None)
def test_parser_never_raises(text: str) -> None:
    result = parse_answer(text)
    assert isinstance(result, (Parsed, Unparseable))
    if isinstance(result, Unparseable):
        assert not result.reason.startswith("internal")
