"""The dashboard is closed without the printed token, and every action needs CSRF."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser

from tests.conftest import Cli
from tests.uiserver import PHONE, Dashboard, phone_fits


def start(cli: Cli, tmp_path: Path, dashboards: list[Dashboard], *extra: str) -> Dashboard:
    d = Dashboard.start(["-r", str(cli.repo), *extra], cli.env, tmp_path / "ui.log")
    dashboards.append(d)
    return d


def test_pages_need_the_login_link(
    cli: Cli, src: Path, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    cli.ok("backup", str(src))
    d = start(cli, tmp_path, dashboard)
    anon = httpx.Client(base_url=d.base, timeout=30)
    assert anon.get("/", headers={"accept": "text/html"}).headers["location"] == "/login"
    assert anon.get("/").status_code == 401
    wrong = anon.get("/login", params={"token": "x" + d.token[1:]})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert anon.get("/").status_code == 401  # a wrong token opened nothing

    c = d.client()
    page = c.get("/")
    assert page.status_code == 200 and str(src) in page.text
    assert page.headers["referrer-policy"] == "same-origin"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    cookie = next(iter(c.cookies.jar))
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_actions_need_the_csrf_token_and_this_origin(
    cli: Cli, src: Path, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    cli.ok("backup", str(src))
    d = start(cli, tmp_path, dashboard)
    c = d.client()
    csrf = c.get("/").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    assert c.post("/logout").status_code == 403
    assert c.post("/logout", data={"csrf": "wrong"}).status_code == 403
    evil = c.post("/logout", data={"csrf": csrf}, headers={"origin": "http://evil.example"})
    assert evil.status_code == 403
    assert c.get("/").status_code == 200  # still logged in
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    assert c.get("/").status_code == 401  # the session is gone


def test_password_login(cli: Cli, src: Path, tmp_path: Path, dashboard: list[Dashboard]) -> None:
    cli.ok("backup", str(src))
    pw = tmp_path / "ui.pass"
    pw.write_text("open sesame\n")
    d = Dashboard.start(
        ["-r", str(cli.repo)], cli.env, tmp_path / "ui.log", extra=["--password-file", str(pw)]
    )
    dashboard.append(d)

    c = httpx.Client(base_url=d.base, timeout=30)
    assert c.post("/login", data={"password": "guess"}).status_code == 401
    assert c.post("/login", data={"password": "open sesame"}).status_code == 303
    assert c.get("/").status_code == 200


def test_browser_logs_in_with_the_link_and_the_token_leaves_the_address_bar(
    cli: Cli, src: Path, tmp_path: Path, dashboard: list[Dashboard], chromium: Browser
) -> None:
    cli.ok("backup", str(src))
    d = start(cli, tmp_path, dashboard)
    page = chromium.new_page(viewport=PHONE)  # a phone
    try:
        page.goto(d.login_url)
        assert "token" not in page.url
        assert page.title().startswith("Overview")
        assert page.locator(".repo").count() == 1
        phone_fits(page)
    finally:
        page.close()


def test_ctrl_c_stops_the_dashboard_with_exit_130_and_sigterm_143(
    cli: Cli, tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    d = start(cli, tmp_path, dashboard)
    assert d.stop() == 130
    d = start(cli, tmp_path, dashboard)
    d.proc.terminate()
    assert d.proc.wait(20) == 143


def test_without_a_plan_or_repository_it_says_what_to_give(cli: Cli) -> None:
    r = cli("ui", repo=False)
    assert r.code == 2 and "--plan" in r.err and "-r" in r.err
