"""Grouping ListObjectVersions pages per key, wherever the pages break."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ripcord.storage.s3_versions import histories

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# per key: how many real versions and delete markers, newest first as S3 lists them
keys = st.dictionaries(
    st.text("abc/", min_size=1, max_size=4),
    st.tuples(st.integers(0, 3), st.integers(0, 2)).filter(lambda t: sum(t) > 0),
    min_size=1,
    max_size=6,
)


def _entries(spec: dict[str, tuple[int, int]]) -> list[tuple[str, dict[str, Any]]]:
    """("Versions" or "DeleteMarkers", entry) in listing order: by key, newest first."""
    out = []
    for key in sorted(spec):
        versions, markers = spec[key]
        for i in reversed(range(versions)):  # the same second for all: order decides
            out.append(
                ("Versions", {"Key": key, "VersionId": f"v{i}", "LastModified": T0, "Size": i})
            )
        for i in reversed(range(markers)):
            when = T0 + timedelta(seconds=i + 1)
            out.append(("DeleteMarkers", {"Key": key, "VersionId": f"m{i}", "LastModified": when}))
    return out


def _pages(entries: list[tuple[str, dict[str, Any]]], cuts: list[int]) -> list[dict[str, Any]]:
    pages, start = [], 0
    for end in [*sorted(set(cuts)), len(entries)]:
        page: dict[str, list[dict[str, Any]]] = {"Versions": [], "DeleteMarkers": []}
        for kind, entry in entries[start:end]:
            page[kind].append(entry)
        pages.append(page)
        start = end
    return pages


@given(keys, st.data())
def test_a_key_split_over_pages_is_one_history_with_its_original_last(
    spec: dict[str, tuple[int, int]], data: st.DataObject
) -> None:
    entries = _entries(spec)
    cuts = data.draw(st.lists(st.integers(0, len(entries)), max_size=len(entries)))
    found = list(histories(_pages(entries, cuts)))
    assert [h.key for h in found] == sorted(spec)
    for h in found:
        versions, markers = spec[h.key]
        assert [v.id for v in h.versions] == [f"v{i}" for i in reversed(range(versions))]
        assert [m.id for m in h.markers] == [f"m{i}" for i in reversed(range(markers))]
        assert (h.original.id if h.original else None) == ("v0" if versions else None)
        assert h.original is None or h.original.size == 0
