"""Durations on the command line: w, d, h and min, nothing calendar-dependent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import UsageError
from ripcord.retention.duration import UNITS, format_duration, parse_duration

counts = st.none() | st.integers(0, 10_000)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90min", timedelta(minutes=90)),
        ("2w", timedelta(days=14)),
        ("1w2d3h4min", timedelta(days=9, hours=3, minutes=4)),
        (" 1d12h ", timedelta(hours=36)),
        ("0d5min", timedelta(minutes=5)),
    ],
)
def test_durations_users_write(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize(
    "text",
    [
        "",
        "30",  # no unit
        "1y",  # calendar units are refused, not guessed
        "6mo",
        "1M",
        "30D",
        "2h1d",  # largest unit first
        "1d1d",
        "1.5d",
        "-1d",
        "1 d",
        "d",
        "0d",  # keeps nothing: surely a mistake
        "0w0min",
        "99999999999999d",  # beyond what a timedelta holds
    ],
)
def test_anything_else_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize("text", ["6m", "1d30m", "90m"])
def test_a_bare_m_is_refused_with_the_reason(text: str) -> None:
    """restic reads 6m as six months: a rule that read six minutes would forget half a year."""
    with pytest.raises(UsageError, match="`m` is ambiguous"):
        parse_duration(text)


@given(st.tuples(*(counts for _ in UNITS)))
def test_a_sum_of_units_parses_to_its_total(parts: tuple[int | None, ...]) -> None:
    text = "".join(f"{n}{u}" for n, u in zip(parts, UNITS, strict=True) if n is not None)
    total = sum((n * UNITS[u] for n, u in zip(parts, UNITS, strict=True) if n), timedelta(0))
    if total > timedelta(0):
        assert parse_duration(text) == total
    else:
        with pytest.raises(UsageError):
            parse_duration(text)


@given(st.integers(1, 10**8).map(lambda m: timedelta(minutes=m)))
def test_what_is_shown_parses_back(span: timedelta) -> None:
    assert parse_duration(format_duration(span)) == span
