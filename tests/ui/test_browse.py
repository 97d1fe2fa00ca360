"""The snapshot browser: a folder deleted after one backup is found in the older
snapshot, downloaded (tar, zip, a file) and restored, through a real `ripcord ui`
(httpx) and a real Chromium at a phone's width."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Dialog

from ripcord.errors import EXIT_GUARD_ALARM
from tests.conftest import Cli
from tests.integration.test_guard import office
from tests.plans import Workspace
from tests.trees import TreeState, assert_same, file_digest, restored, tree_diff, tree_state
from tests.uiserver import PHONE, Dashboard, phone_fits

WEIRD = b"we\xffird ?#% \nname"  # not UTF-8, and every character a URL trips on
HOSTILE = "<script>alert(1)"  # a name is text on a page, never markup
MTIME_NS = 1_700_000_000_123_456_789


@dataclass
class Story:
    cli: Cli
    src: Path
    gone: Path  # the folder deleted before the second backup
    picture: TreeState  # of `gone` as the first backup saw it
    older: str  # the snapshot that still holds `gone`
    newer: str
    dashboard: Dashboard

    def url(self, path: Path) -> str:
        return quote(str(path).lstrip("/"))

    def browse(self, snap: str, path: Path) -> str:
        return f"/snapshots/repository/{snap}/browse/{self.url(path)}"

    def download(self, snap: str, path: Path) -> str:
        return f"/snapshots/repository/{snap}/download/{self.url(path)}"


@pytest.fixture
def story(cli: Cli, tmp_path: Path, dashboard: list[Dashboard]) -> Story:
    """Back up a tree; delete a folder and change a file; back up again; serve it."""
    src = tmp_path / "src"
    (src / "keep").mkdir(parents=True)
    (src / "keep" / "a.txt").write_text("version 1\n")
    gone = src / "gone"
    (gone / "sub").mkdir(parents=True)
    (gone / "report.txt").write_text("quarterly numbers\n" * 1000)
    (gone / "report.txt").chmod(0o640)
    (gone / "sub" / "data.bin").write_bytes(os.urandom(5 << 20))  # chunks are 4 MiB at most
    (gone / "sub" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (gone / "sub" / "run.sh").chmod(0o750)
    (gone / HOSTILE).write_text("hostile\n")
    with open(os.fsencode(gone) + b"/" + WEIRD, "wb") as f:
        f.write(b"a name that is not UTF-8\n")
    os.symlink("report.txt", gone / "link")
    for p in (gone / "report.txt", gone / "sub", gone):
        os.utime(p, ns=(MTIME_NS, MTIME_NS))
    picture = tree_state(gone)
    cli.ok("backup", str(src))
    shutil.rmtree(gone)
    (src / "keep" / "a.txt").write_text("version 2, longer\n")
    cli.ok("backup", str(src))
    older, newer = (s["id"] for s in cli.ok("snapshots", "--json").json)
    d = Dashboard.start(["-r", str(cli.repo)], cli.env, tmp_path / "ui.log")
    dashboard.append(d)
    return Story(cli, src, gone, picture, older, newer, d)


def csrf_of(html: str) -> str:
    return html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def unpacked_tar(data: bytes, into: Path) -> Path:
    """Unpack with tarfile's "data" filter, which refuses absolute names and '..'."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def assert_like_picture(picture: TreeState, root: Path) -> None:
    """Every entry, its content, mode and (to the second) mtime, as the backup saw it;
    tar's mtimes are float seconds and unpacking does not date symlinks."""
    assert tree_diff(picture, tree_state(root), frozenset({"atime_ns", "mtime_ns"})) == []
    for rel, e in picture.entries.items():
        if e.type != "l":
            assert os.lstat(root / rel).st_mtime_ns // 10**9 == e.mtime_ns // 10**9, rel


def wait_for_job(c: httpx.Client, location: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state: dict[str, object] = c.get(f"{location}/state").json()
        if state["status"] != "running":
            return state
        time.sleep(0.2)
    raise AssertionError(f"the job at {location} did not finish")


def test_the_list_shows_both_snapshots_newest_first_and_marks(story: Story) -> None:
    c = story.dashboard.client()
    page = c.get("/snapshots").text
    assert page.index(story.newer) < page.index(story.older)
    assert str(story.src) in page
    story.cli.ok("protect", story.older[:12])
    marked = c.get("/snapshots/repository").text
    older = marked.split(f'data-snapshot="{story.older}"', 1)[1].split("</li>", 1)[0]
    assert "protected" in older
    assert c.get("/snapshots/nosuchrepo").status_code == 404


def test_a_guard_alarm_and_its_pin_are_marked_in_the_list(
    cli: Cli, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    src = office(tmp_path / "office")
    cli.ok("backup", str(src))
    shutil.rmtree(src / "dept1")
    shutil.rmtree(src / "dept2")
    assert cli("backup", str(src)).code == EXIT_GUARD_ALARM
    good, suspicious = (s["id"] for s in cli.ok("snapshots", "--json").json)
    d = Dashboard.start(["-r", str(cli.repo)], cli.env, tmp_path / "ui.log")
    dashboard.append(d)
    c = d.client()

    def row(snap: str) -> str:
        page = c.get("/snapshots").text
        return page.split(f'data-snapshot="{snap}"', 1)[1].split("</li>", 1)[0]

    assert "guard alarm" in row(suspicious) and "80 files (50%) were deleted" in row(suspicious)
    alarmed = f'class="snapshot alarmed" data-snapshot="{suspicious}"'
    assert alarmed in c.get("/snapshots").text
    assert "protected" in row(good)  # pinned: the last good snapshot before the alarm
    cli.ok("guard", "ack", suspicious[:12])
    assert "alarm answered" in row(suspicious) and alarmed not in c.get("/snapshots").text


def test_a_plan_s_repositories_are_tabs_and_one_that_cannot_be_opened_says_why(
    cli_env: dict[str, str], tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    ws = Workspace(tmp_path, cli_env)
    (ws.src / "a.txt").write_text("in both\n")
    ws.add("usb", str(tmp_path / "usb"), "disk")
    ws.add("nas", str(tmp_path / "nas"), "nas")
    ws.write()
    assert ws.ripcord("run").code == 0
    ws.password_file("nas").write_text("not the password\n")
    env = {k: v for k, v in ws.env.items() if k != "RIPCORD_PASSWORD"}  # the plan says
    d = Dashboard.start(["--plan", str(ws.plan)], env, tmp_path / "ui.log")
    dashboard.append(d)
    c = d.client()
    usb = c.get("/snapshots")
    assert 'href="/snapshots/usb" aria-current="page"' in usb.text
    assert 'href="/snapshots/nas"' in usb.text and str(ws.src) in usb.text
    nas = c.get("/snapshots/nas")
    assert nas.status_code == 502 and "password" in nas.text and "Traceback" not in nas.text


def test_the_deleted_folder_is_browsed_and_downloaded_from_the_older_snapshot(
    story: Story, tmp_path: Path
) -> None:
    c = story.dashboard.client()
    assert c.get(story.browse(story.newer, story.gone)).status_code == 404
    listing = c.get(story.browse(story.older, story.gone))
    assert listing.status_code == 200
    assert "&lt;script&gt;alert(1)" in listing.text and HOSTILE not in listing.text
    assert "we\\xffird ?#% \nname" in listing.text  # shown as text, the odd byte escaped
    deeper = c.get(story.browse(story.older, story.gone / "sub"))
    assert "run.sh" in deeper.text and "-rwxr-x---" in deeper.text

    tar = c.get(story.download(story.older, story.gone), params={"format": "tar"})
    assert tar.status_code == 200
    assert tar.headers["content-disposition"].startswith('attachment; filename="gone.tar"')
    assert_like_picture(story.picture, unpacked_tar(tar.content, tmp_path / "tar") / "gone")

    gz = c.get(story.download(story.older, story.gone), params={"format": "tar.gz"})
    assert_like_picture(story.picture, unpacked_tar(gz.content, tmp_path / "gz") / "gone")

    z = zipfile.ZipFile(
        io.BytesIO(c.get(story.download(story.older, story.gone) + "?format=zip").content)
    )
    names = set(z.namelist())
    assert {"gone/", "gone/sub/", "gone/sub/data.bin", f"gone/{HOSTILE}"} <= names
    assert "gone/we\\xffird ?#% \nname" in names  # zip names are UTF-8: the byte escaped
    for rel, e in story.picture.entries.items():
        if e.type == "-" and os.fsencode(rel) != WEIRD:
            assert hashlib.sha256(z.read(f"gone/{rel}")).hexdigest() == e.digest, rel
    assert c.get(story.download(story.older, story.gone) + "?format=rar").status_code == 400


def test_files_with_odd_names_download_as_they_were(story: Story, tmp_path: Path) -> None:
    c = story.dashboard.client()
    weird = f"{story.download(story.older, story.gone)}/{quote(WEIRD)}"
    r = c.get(weird)
    assert r.status_code == 200 and r.content == b"a name that is not UTF-8\n"
    disposition = r.headers["content-disposition"]
    assert (
        "\n" not in disposition
        and "filename*=UTF-8''we%EF%BF%BDird%20%3F%23%25%20%0Aname" in disposition
    )
    hostile = c.get(f"{story.download(story.older, story.gone)}/{quote(HOSTILE)}")
    assert hostile.content == b"hostile\n"
    assert hostile.headers["content-disposition"].startswith(
        'attachment; filename="_script_alert(1)"'
    )
    big = c.get(story.download(story.older, story.gone / "sub" / "data.bin"))
    assert int(big.headers["content-length"]) == 5 << 20
    out = tmp_path / "data.bin"
    out.write_bytes(big.content)
    assert file_digest(out) == story.picture.entries["sub/data.bin"].digest


def test_paths_outside_the_snapshot_are_not_found(story: Story) -> None:
    c = story.dashboard.client()
    base = f"/snapshots/repository/{story.older}"
    for tail in ("%2e%2e/%2e%2e/etc", "tmp/%2E%2E", "a%00b", "no/such/path"):
        for kind in ("browse", "download", "restore"):
            r = c.get(f"{base}/{kind}/{tail}")
            assert r.status_code == 404, (kind, tail, r.text)
    assert c.get("/snapshots/repository/ffff/browse/").status_code == 404
    assert c.get("/snapshots/repository/history/no/such/file").status_code == 404
    # a raw '..' that no browser would send (http.client does not tidy the path)
    host = urlsplit(story.dashboard.base).netloc
    cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("GET", f"{base}/download/../../../../etc/passwd", headers={"cookie": cookie})
    answer = conn.getresponse()
    assert answer.status == 404 and b"root:" not in answer.read()


def test_search_finds_a_file_in_both_snapshots_and_history_lists_its_versions(
    story: Story,
) -> None:
    c = story.dashboard.client()
    found = c.get("/snapshots/repository/search", params={"pattern": "a.txt"})
    assert found.status_code == 200
    assert f'data-snapshot="{story.newer}"' in found.text
    assert f'data-snapshot="{story.older}"' in found.text
    only_old = c.get("/snapshots/repository/search", params={"pattern": "data.bin"}).text
    assert story.older in only_old and story.newer not in only_old
    bad = c.get("/snapshots/repository/search", params={"pattern": "x", "newer": "yesterday"})
    assert bad.status_code == 400 and "not an ISO 8601 time" in bad.text
    none = c.get("/snapshots/repository/search", params={"pattern": "a.txt", "older": "2001-01-01"})
    assert "No matches" in none.text

    history = c.get(f"/snapshots/repository/history/{story.url(story.src / 'keep' / 'a.txt')}")
    assert history.status_code == 200
    versions = re.findall(r'href="([^"]+/download/[^"]+)"[^>]*>Download this version', history.text)
    assert [c.get(v).content for v in versions] == [b"version 1\n", b"version 2, longer\n"]
    deleted = c.get(f"/snapshots/repository/history/{story.url(story.gone)}").text
    assert "deleted" in deleted and "folder of 5 entries" in deleted


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may create anything in, root included (chattr +i)."""
    d = tmp_path / "locked"
    d.mkdir()
    subprocess.run(["chattr", "+i", str(d)], check=True)
    try:
        yield d
    finally:
        subprocess.run(["chattr", "-i", str(d)], check=True)


def test_restore_through_the_form(story: Story, tmp_path: Path, immutable: Path) -> None:
    c = story.dashboard.client()
    form_url = f"/snapshots/repository/{story.older}/restore/{story.url(story.gone)}"
    form = c.get(form_url)
    assert form.status_code == 200 and "ripcord-restore-" in form.text
    csrf = csrf_of(form.text)
    assert c.post(form_url, data={"target": str(tmp_path / "t")}).status_code == 403

    def post(target: str, **extra: str) -> httpx.Response:
        return c.post(form_url, data={"csrf": csrf, "target": target, **extra})

    for bad in ("restored/here", "/with/a/\0/in/it", ""):
        refused = post(bad)
        assert refused.status_code == 400 and "absolute path" in refused.text, bad
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.me").write_text("mine\n")
    refused = post(str(full))
    assert refused.status_code == 400 and "not empty" in refused.text
    locked = post(str(immutable / "inside"))
    assert locked.status_code == 400
    assert f"the dashboard cannot write to {immutable / 'inside'}: Operation not permitted" in (
        locked.text
    )

    target = tmp_path / "back"
    started = post(str(target))
    assert started.status_code == 303
    state = wait_for_job(c, started.headers["location"])
    assert state["status"] == "ok", state
    assert "files verified" in str(state["detail"])
    assert_same(story.picture, tree_state(restored(target, story.gone)))
    result = c.get(started.headers["location"]).text.split('id="result"', 1)[1]
    assert f"Restored to <code>{target}</code>" in result and "verified against" in result
    assert "data-problem" not in result

    again = post(str(full), overwrite="yes")  # overwrite: a folder with files is fine
    assert wait_for_job(c, again.headers["location"])["status"] == "ok"
    assert (full / "keep.me").read_text() == "mine\n"
    assert_same(story.picture, tree_state(restored(full, story.gone)))


def test_in_chromium_on_a_phone(story: Story, tmp_path: Path, chromium: Browser) -> None:
    page = chromium.new_page(viewport=PHONE, accept_downloads=True)
    dialogs: list[str] = []

    def dialog(d: Dialog) -> None:  # an alert() would mean a name ran as a script
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    try:
        page.goto(story.dashboard.login_url)
        page.goto(f"{story.dashboard.base}/snapshots")
        phone_fits(page)
        page.click(f'li[data-snapshot="{story.older}"] .paths a')
        page.click('a:text-is("gone/")')
        assert page.url.endswith(story.browse(story.older, story.gone))
        assert page.get_by_text(HOSTILE, exact=True).count() == 1  # text, not a script
        phone_fits(page)
        with page.expect_download() as download:
            page.click("text=Download .tar")
        data = Path(download.value.path()).read_bytes()
        assert_like_picture(story.picture, unpacked_tar(data, tmp_path / "tar") / "gone")

        page.click("text=Restore…")
        phone_fits(page)
        target = tmp_path / "from-the-phone"
        page.fill("#target", str(target))
        page.click("button:text-is('Restore')")
        page.wait_for_selector('#job[data-status="ok"]', timeout=120_000)
        assert_same(story.picture, tree_state(restored(target, story.gone)))

        page.goto(f"{story.dashboard.base}/snapshots/repository/search?pattern=a.txt")
        phone_fits(page)
        page.click(f'h3[data-snapshot="{story.older}"] + ul a:text-is("history")')
        phone_fits(page)
        assert page.locator("li.version").count() == 2
        assert dialogs == []
    finally:
        page.close()
