"""A record's time: ISO 8601 with a zone, in a year that can be shown in local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.repository.wire import YEARS, as_time

ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=ZONES))
def test_a_time_in_range_is_read_and_shows_in_local_time_or_is_refused(t: datetime) -> None:
    if t.year in YEARS:
        back = as_time(t.isoformat())
        assert back == t
        back.astimezone().strftime("%Y-%m-%d %H:%M")  # what every listing does with it
    else:
        with pytest.raises(ValueError, match="outside the years"):
            as_time(t.isoformat())


@pytest.mark.parametrize("bad", ["2026-11-26T12:00:00", 1764158400, b"2026-11-26", "soon"])
def test_no_zone_or_not_a_time_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        as_time(bad)


def test_the_edges() -> None:
    assert as_time("1900-01-01T00:00:00+00:00").year == 1900
    assert as_time(datetime(9000, 12, 31, tzinfo=UTC).isoformat()).year == 9000
