"""/jobs: back up, check and drill from the dashboard, followed live, one at a time."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Cli
from tests.integration.test_guard import office
from tests.plans import Workspace
from tests.uiserver import PHONE, Dashboard, phone_fits


@pytest.fixture
def ws(tmp_path: Path, cli_env: dict[str, str]) -> Workspace:
    """A plan of two local copies and an offsite one, never backed up: 3-2-1 is broken."""
    w = Workspace(tmp_path, cli_env)
    office(w.src, folders=2, files=10)
    w.add("usb", str(w.root / "usb"), "disk")
    w.add("nas", str(w.root / "nas"), "nas")
    w.add("cloud", str(w.root / "cloud"), "object-storage", offsite=True)
    return w


def start(ws: Workspace, dashboards: list[Dashboard]) -> Dashboard:
    env = {k: v for k, v in ws.env.items() if k != "RIPCORD_PASSWORD"}  # the plan says
    d = Dashboard.start(["--plan", str(ws.plan)], env, ws.root / "ui.log")
    dashboards.append(d)
    return d


def csrf(c: httpx.Client) -> str:
    return c.get("/jobs").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def launch(c: httpx.Client, what: str, **form: str) -> str:
    """POST a job's form; the job's page."""
    r = c.post(f"/jobs/{what}", data={"csrf": csrf(c), **form})
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def finished(c: httpx.Client, job: str) -> dict[str, object]:
    """Follow the job's event stream to its end; its state."""
    while True:
        with c.stream("GET", f"{job}/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line == "event: done":
                    state: dict[str, object] = c.get(f"{job}/state").json()
                    return state


def rule(page_html: str, name: str) -> str:
    li = page_html.split(f'<li data-rule="{name}">', 1)[1].split("</li>", 1)[0]
    return "holds" if ">holds<" in li else "BROKEN" if ">BROKEN<" in li else li


def test_back_up_now_runs_the_plan_live_and_the_broken_rule_turns_green(
    ws: Workspace, dashboard: list[Dashboard], chromium: Browser
) -> None:
    gate = ws.root / "go"  # the run waits in its start hook until the test opens the gate
    ws.tables = f'[hooks]\non_start = "while [ ! -e {gate} ]; do sleep 0.05; done"\ntimeout = 600\n'
    ws.write()
    d = start(ws, dashboard)
    context = chromium.new_context(viewport=PHONE)  # a phone
    page = context.new_page()
    try:
        page.goto(d.login_url)
        badge = page.locator('li[data-rule="3 copies"] .badge')
        expect(badge).to_have_text("BROKEN")

        page.goto(d.base + "/jobs")
        phone_fits(page)
        page.get_by_role("button", name="Back up now").click()
        page.wait_for_url("**/jobs/1")
        job = page.locator("#job")
        expect(job).to_have_attribute("data-status", "running")
        expect(job).to_have_attribute("data-events", re.compile(r"^[1-9]"))  # events came live
        expect(page.locator("#job-log")).to_contain_text("running plan office")

        other = context.new_page()  # a second click while it runs is refused
        other.goto(d.base + "/jobs")
        other.get_by_role("button", name="Back up now").click()
        expect(other.locator("#message")).to_contain_text("a backup is already running")
        other.close()

        gate.touch()
        result = page.locator("#result")  # the event stream's end reloads the page
        expect(result).to_be_visible(timeout=120_000)
        for name in ("usb", "nas", "cloud"):
            step = result.locator(f'tr[data-repository="{name}"] .badge').first
            expect(step).to_have_text("ok")
        expect(page.locator("#job-status .badge")).to_have_text("ok")
        phone_fits(page)

        page.goto(d.base + "/")
        expect(badge).to_have_text("holds")
    finally:
        context.close()


def test_a_run_in_another_process_is_refused_and_actions_need_the_csrf_token(
    ws: Workspace, dashboard: list[Dashboard]
) -> None:
    ws.write()
    d = start(ws, dashboard)
    c = d.client()
    assert c.post("/jobs/backup").status_code == 403
    assert c.post("/jobs/check", data={"repository": "usb"}).status_code == 403
    assert "No job since the dashboard started" in c.get("/jobs").text

    lock = Path(ws.env["RIPCORD_STATE_DIR"]) / "office.run.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:  # what `ripcord run` holds while it runs
        held.write("pid 4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        job = launch(c, "backup")
        state = finished(c, job)
    assert state["status"] == "refused"
    shown = c.get(job).text
    assert "a run is already in progress" in shown and "pid 4242" in shown
    assert ws.on("usb", "snapshots", "--json").json == []


def test_check_and_drill_now_are_recorded_and_an_unreachable_repository_is_said(
    ws: Workspace, dashboard: list[Dashboard]
) -> None:
    ws.add("gone", str(ws.root / "gone"), "disk", init=False)
    ws.write()
    assert ws.run(1).code == 1  # backed up and copied; 'gone' cannot be reached
    d = start(ws, dashboard)
    c = d.client()

    def nas_card() -> str:
        return c.get("/").text.split('data-repository="nas"', 1)[1].split("</section>", 1)[0]

    assert "pass" not in nas_card()
    check = launch(c, "check", repository="nas", read="all")
    assert finished(c, check)["status"] == "ok"
    assert "No errors found" in c.get(check).text
    assert "pass" in nas_card()  # the overview reads the check record the job wrote

    drill = launch(c, "drill", repository="usb", sample="5")
    state = finished(c, drill)
    assert state["status"] == "ok", state
    assert ">pass<" in c.get(drill).text
    assert ws.on("usb", "drills", "--json").json[-1]["result"] == "pass"

    failed = launch(c, "check", repository="gone")
    state = finished(c, failed)
    assert state["status"] == "failed" and "no repository at" in str(state["detail"])
    text = c.get(failed).text
    assert "no repository at" in text and "Traceback" not in text
    listing = c.get("/jobs").text
    assert listing.count("<tr data-job=") == 3 and "check of gone" in listing
    assert c.post("/jobs/check", data={"csrf": csrf(c), "repository": "x"}).status_code == 404


def test_without_a_plan_back_up_now_takes_the_newest_snapshots_paths_again(
    cli: Cli, src: Path, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9 <b>"))  # not UTF-8, and markup
    shutil.copytree(src, odd)
    d = Dashboard.start(["-r", str(cli.repo)], cli.env, tmp_path / "ui.log")
    dashboard.append(d)
    c = d.client()
    nothing = launch(c, "backup")
    state = finished(c, nothing)
    assert state["status"] == "failed" and "holds no snapshot of this host" in str(state["detail"])

    cli.ok("backup", str(odd), "--exclude", "*.dat")
    (odd / "new.txt").write_text("written after the first backup\n")
    job = launch(c, "backup")
    assert finished(c, job)["status"] == "ok"
    page = c.get(job)
    assert page.status_code == 200 and "caf\\xe9 &lt;b&gt;" in page.text and "1 new" in page.text
    snaps = cli.ok("snapshots", "--json").json
    assert len(snaps) == 2 and snaps[1]["paths"] == snaps[0]["paths"]
    assert snaps[1]["excludes"] == ["*.dat"] and snaps[1]["parent"] == snaps[0]["id"]
    timeline = c.get("/timeline")  # the source is named after the odd path
    assert timeline.status_code == 200 and "caf\\xe9 &lt;b&gt;" in timeline.text
    assert timeline.text.count('<g class="snap"') == 2
