"""The overview in a real Chromium over a real `ripcord ui`: an alarm raised by `run` sits
on top and one click answers it in every copy (as the CLI then sees), the verdict
says which rule is broken and why, a hung repository costs the page its timeout
and no more, hostile names stay text, and all of it fits a phone."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from ripcord.errors import EXIT_GUARD_ALARM, EXIT_RULE_BROKEN
from tests.integration.test_guard import office
from tests.plans import Workspace
from tests.uiserver import PHONE, Dashboard, phone_fits

HOSTILE = "<img src=x onerror=alert(1)>"  # a folder name (no slash) the guard's reason names


@pytest.fixture
def ws(tmp_path: Path, cli_env: dict[str, str]) -> Workspace:
    """Two local copies of an office (no offsite one), backed up yesterday, then again an
    hour ago after a folder of 45 files (with a hostile name) vanished: a guard alarm."""
    w = Workspace(tmp_path, cli_env)
    office(w.src, folders=3, files=30)
    (w.src / HOSTILE).mkdir()
    for i in range(45):
        (w.src / HOSTILE / f"plan{i:02}.txt").write_text(f"plan {i}\n" * 30)
    w.add("usb", str(tmp_path / "usb"), "disk")
    w.add("nas", str(tmp_path / "nas"), "nas")
    w.write()
    now = datetime.now().astimezone()
    assert w.ripcord("run", "--time", (now - timedelta(days=1)).isoformat()).code == 0
    shutil.rmtree(w.src / HOSTILE)
    r = w.ripcord("run", "--time", (now - timedelta(hours=1)).isoformat())
    assert r.code == EXIT_GUARD_ALARM, r.out + r.err
    return w


def start(ws: Workspace, tmp_path: Path, dashboards: list[Dashboard], *extra: str) -> Dashboard:
    env = {k: v for k, v in ws.env.items() if k != "RIPCORD_PASSWORD"}  # the plan says
    d = Dashboard.start(["--plan", str(ws.plan)], env, tmp_path / "ui.log", list(extra))
    dashboards.append(d)
    return d


def phone(chromium: Browser, d: Dashboard) -> Page:
    page = chromium.new_page(viewport=PHONE)
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    page.goto(d.login_url)
    return page


def test_an_alarm_on_top_is_answered_in_every_copy_with_one_click(
    ws: Workspace, tmp_path: Path, dashboard: list[Dashboard], chromium: Browser
) -> None:
    d = start(ws, tmp_path, dashboard)
    page = phone(chromium, d)
    try:
        first = page.locator("main > *").first
        assert first.get_attribute("class") == "card alarm"  # above the verdict
        alarm = page.locator(".alarm")
        assert alarm.count() == 1  # one event, though both copies carry it
        text = alarm.inner_text()
        assert HOSTILE in text and "45 files" in text and "usb, nas" in text
        assert page.locator("main img").count() == 0  # the folder's name stayed text

        verdict = page.locator("#verdict")
        assert verdict.get_attribute("data-holds") == "no" and "BROKEN" in verdict.inner_text()
        offsite = page.locator('[data-rule="1 offsite"]')
        assert "BROKEN" in offsite.inner_text()
        assert "no repository of the plan is offsite" in offsite.inner_text()
        assert "holds" in page.locator('[data-rule="3 copies"]').inner_text()
        usb = page.locator('[data-repository="usb"]').inner_text()
        assert "within the RPO" in usb and "never" in usb  # never checked nor drilled
        phone_fits(page)

        alarm.get_by_label("Why?").fill("<b>we moved the plans</b> & archived them")
        alarm.get_by_role("button", name="This was intentional").click()
        answered = page.locator("#answered")
        for name in ("usb", "nas"):
            assert "answered on" in answered.locator(f'[data-repository="{name}"]').inner_text()
        assert "<b>we moved the plans</b> & archived them" in answered.inner_text()
        assert page.locator("main b").count() == 0
        phone_fits(page)

        page.get_by_role("link", name="Back to the overview").click()
        assert page.locator(".alarm").count() == 0
    finally:
        page.close()

    for name in ("usb", "nas"):
        listed = ws.on(name, "guard", "list", "--json")
        assert listed.code == 0, (name, listed.out)
        (a,) = listed.json["alarms"]
        assert a["answer"] == "ack"
    status = ws.ripcord("status", "--json")
    assert status.code == EXIT_RULE_BROKEN and status.json["open_alarms"] == 0
    assert d.stop() == 130  # the repositories the pages' threads opened close cleanly


def test_an_answer_needs_a_reason_and_a_known_alarm(
    ws: Workspace, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    d = start(ws, tmp_path, dashboard)
    c = d.client()
    html = c.get("/").text
    csrf = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    key = html.split('name="snapshot" value="', 1)[1].split('"', 1)[0]
    form = {"csrf": csrf, "snapshot": key, "answer": "intentional"}
    r = c.post("/alarms/answer", data={**form, "reason": "  "})
    assert r.status_code == 400 and "Say why" in r.text
    r = c.post("/alarms/answer", data={**form, "snapshot": "../x", "reason": "why"})
    assert r.status_code == 400
    unsigned = {k: v for k, v in form.items() if k != "csrf"}
    assert c.post("/alarms/answer", data={**unsigned, "reason": "x"}).status_code == 403
    r = c.post("/alarms/answer", data={**form, "answer": "incident", "reason": "an attack"})
    assert r.status_code == 200 and "stays pinned" in r.text
    r = c.post("/alarms/answer", data={**form, "reason": "again"})
    assert r.status_code == 409 and "answered already" in r.text
    listed = ws.on("nas", "guard", "list", "--json").json["alarms"]
    assert [a["answer"] for a in listed] == ["incident"]


def test_a_repository_that_does_not_answer_costs_the_page_its_timeout_only(
    ws: Workspace, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    assert ws.ripcord("status").code == EXIT_RULE_BROKEN  # the state file remembers nas
    config = tmp_path / "nas" / "config"
    kept = config.read_bytes()
    config.unlink()
    os.mkfifo(config)  # opening it blocks until a writer comes: a NAS that never answers
    d = start(ws, tmp_path, dashboard, "--timeout", "2")
    try:
        r = d.client().get("/")
        assert r.status_code == 200
        nas = r.text.split('data-repository="nas"', 1)[1]
        assert "no answer within 2 s" in nas and "last seen" in nas
    finally:  # the config back, and the reader still waiting on the pipe gets it too
        fifo = config.rename(config.with_name("config.fifo"))
        config.write_bytes(kept)
        release = threading.Thread(target=lambda: fifo.write_bytes(kept), daemon=True)
        release.start()
        release.join(30)


def test_one_repository_of_the_plan_shows_its_facts_and_no_verdict(
    ws: Workspace, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    env = {k: v for k, v in ws.env.items() if k != "RIPCORD_PASSWORD"}
    d = Dashboard.start(["--plan", str(ws.plan), "-r", "nas"], env, tmp_path / "ui.log")
    dashboard.append(d)
    html = d.client().get("/").text
    assert 'id="verdict"' not in html and "no 3-2-1-1-0 verdict" in html
    assert html.count('class="card repo"') == 1 and 'data-repository="nas"' in html
    assert html.count('class="card alarm"') == 1 and "45 files" in html
