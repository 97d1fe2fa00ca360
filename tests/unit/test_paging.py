"""Folder pages (ui/paging.py): whatever the names, the parts and the page size, pages
forward from the start and back from the end each show every entry once, in order."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripcord.archive.trees import listing
from ripcord.repository import Repository
from ripcord.ui.paging import Page, page_after, page_before
from tests.splits import small_parts
from tests.unit.test_split_trees import new_repo, write

NAMES = st.lists(
    st.binary(min_size=1, max_size=6).filter(lambda b: b not in (b".", b"..") and b"/" not in b),
    max_size=120,
    unique=True,
).map(lambda ns: sorted(n.replace(b"\0", b"_") for n in ns))


def forward(repo: Repository, tree: bytes, size: int) -> list[Page]:
    pages = [page_after(repo, tree, b"/d", None, size)]
    while pages[-1].more_after:
        pages.append(page_after(repo, tree, b"/d", pages[-1].nodes[-1].name, size))
    return pages


def backward(repo: Repository, tree: bytes, size: int, end: bytes) -> list[Page]:
    pages = [page_before(repo, tree, b"/d", end, size)]
    while pages[0].more_before:
        pages.insert(0, page_before(repo, tree, b"/d", pages[0].nodes[0].name, size))
    return pages


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=NAMES, size=st.integers(1, 30))
def test_pages_show_every_entry_once_in_order(
    names: list[bytes], size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = sorted(set(names))
    small_parts(monkeypatch, every=4)
    with new_repo() as repo:
        tree = write(repo, names)
        assert len(listing(repo, tree).parts) > 1 or len(names) < 20
        pages = forward(repo, tree, size)
        assert [n.name for p in pages for n in p.nodes] == names
        assert all(len(p.nodes) == size for p in pages[:-1])
        assert not pages[0].more_before and not pages[-1].more_after
        if names:
            back = backward(repo, tree, size, b"\xff" * 7)
            # every page a run of the names; the first one full, so it may overlap the next
            shown = [[n.name for n in p.nodes] for p in back]
            assert all(names[names.index(p[0]) :][: len(p)] == p for p in shown)
            assert sorted({n for p in shown for n in p}) == names
            later = [n for p in shown[1:] for n in p]
            assert later == names[len(names) - len(later) :]
            assert all(len(p) == min(size, len(names)) for p in shown)
            middle = names[len(names) // 2]
            before = page_before(repo, tree, b"/d", middle, size)
            earlier = [n for n in names if n < middle]
            # the page just before the name, or the first page if that is not a page full
            want = earlier[-size:] if len(earlier) > size else names[:size]
            assert [n.name for n in before.nodes] == want
            assert before.more_after == (len(earlier) > size or len(names) > size)
