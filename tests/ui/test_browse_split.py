"""The snapshot browser on a split folder (docs/FORMAT.md §Split trees): a folder of
more entries than a page shows is paged by name, forward and back, through a real
`ripcord ui`; the repository is built in this process, where small parts reach backup."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import httpx
import pytest

from ripcord.archive.trees import MAX_DEPTH, find, listing
from ripcord.ui.paging import PAGE
from tests.conftest import Cli
from tests.faults import api_repo, nested_snapshot
from tests.splits import small_parts
from tests.uiserver import Dashboard

WEIRD = b"f-0999-\xff ?#%&"  # the last of the first page: not UTF-8, and URL-hostile
ROW = re.compile(
    r'<tr data-kind="file">\s*<td class="name"><a href="/snapshots/repository/history/([^"]+)"'
)


def names(count: int) -> list[bytes]:
    return sorted(WEIRD if i == 999 else b"f-%04d" % i for i in range(count))


def rows(html: str) -> list[bytes]:
    return [unquote_to_bytes(m).rsplit(b"/", 1)[1] for m in ROW.findall(html)]


def link(html: str, rel: str) -> str | None:
    m = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return m.group(1) if m else None


@pytest.fixture
def big(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of 2,100 empty files, stored as a split tree of parts of 64..256."""
    small_parts(monkeypatch, every=64)
    folder = tmp_path / "big"
    folder.mkdir()
    for name in names(2100):
        os.close(os.open(os.fsencode(folder) + b"/" + name, os.O_CREAT | os.O_WRONLY))
    cli.ok("backup", str(folder))
    with api_repo(cli) as repo:
        tree = find(repo, bytes.fromhex(repo.snapshots()[-1].tree), str(folder)).subtree
        assert tree is not None and len(listing(repo, tree).parts) >= 5
    return folder


def test_a_split_folder_is_paged_by_name_forward_and_back(
    cli: Cli, big: Path, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    d = Dashboard.start(["-r", str(cli.repo)], cli.env, tmp_path / "ui.log")
    dashboard.append(d)
    c = d.client()
    first = c.get(f"/snapshots/repository/latest/browse/{quote(str(big).lstrip('/'))}")
    assert first.status_code == 200, first.text
    pages, html = [rows(first.text)], first.text
    assert link(html, "prev") is None
    while (to := link(html, "next")) is not None:
        html = ok(c, to)
        pages.append(rows(html))
    assert [len(p) for p in pages] == [PAGE, PAGE, 100]
    assert [n for p in pages for n in p] == names(2100)
    assert pages[0][-1] == WEIRD  # and the second page started right after it

    back = link(html, "prev")
    assert back is not None
    html = ok(c, back)
    assert rows(html) == pages[1]
    html = ok(c, link(html, "prev") or "")
    assert rows(html) == pages[0] and link(html, "prev") is None

    # one entry is found through its part alone; a name that cannot be is a 404
    url = f"/snapshots/repository/latest/browse/{quote(str(big / 'f-1500').lstrip('/'))}"
    assert "f-1500" in ok(c, url)
    folder = f"/snapshots/repository/latest/browse/{quote(str(big).lstrip('/'))}"
    assert c.get(folder + "?after=..").status_code == 404
    assert rows(ok(c, folder + "?after=f-2098")) == [b"f-2099"]


def ok(c: httpx.Client, url: str) -> str:
    r = c.get(url)
    assert r.status_code == 200, r.text
    return r.text


def test_a_folder_whose_entries_lie_too_deep_is_refused(
    cli: Cli, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    snap = nested_snapshot(cli, MAX_DEPTH)  # d/d/.../d/bottom: bottom one level too deep
    d = Dashboard.start(["-r", str(cli.repo)], cli.env, tmp_path / "ui.log")
    dashboard.append(d)
    c = d.client()
    folder = f"/snapshots/repository/{snap}/browse/" + "d/" * (MAX_DEPTH - 1)
    deepest = "/".join(["d"] * MAX_DEPTH)
    assert f'/browse/{deepest}">d/</a>' in ok(c, folder)  # a folder at the limit is listed
    refused = c.get(folder + "d")
    assert refused.status_code == 502 and f"deeper than {MAX_DEPTH} levels" in refused.text
