"""/timeline: a chart per source where a mass-deletion night stands out, with its alarm."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser

from ripcord.errors import EXIT_GUARD_ALARM
from ripcord.repository import Snapshot
from ripcord.repository.marks import Standing
from ripcord.ui.timeline import Figures
from tests.conftest import Cli
from tests.integration.test_guard import office
from tests.plans import Workspace
from tests.uiserver import PHONE, Dashboard, phone_fits

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"


def nights(cli: Cli, src: Path) -> list[str]:
    """Four nights of backups; on the third, two folders (80 files) are gone."""
    ids = []
    for n in range(1, 5):
        if n == 2:
            (src / "dept0" / "memo000.txt").write_text("changed\n")
        if n == 3:
            shutil.rmtree(src / "dept1")
            shutil.rmtree(src / "dept2")
        r = cli("backup", str(src), "--time", f"2026-11-0{n}T02:30:00+00:00", "--json")
        assert r.code == (EXIT_GUARD_ALARM if n == 3 else 0), r.err
        ids.append(r.json["snapshot_id"])
    return ids


def test_the_mass_deletion_night_stands_out_with_its_alarm(
    cli: Cli, tmp_path: Path, dashboard: list[Dashboard], chromium: Browser
) -> None:
    src = office(tmp_path / EVIL)  # a hostile folder name: the source is named after it
    ids = nights(cli, src)
    d = Dashboard.start(["-r", str(cli.repo)], cli.env, tmp_path / "ui.log")
    dashboard.append(d)
    page = d.client().get("/timeline")
    assert page.status_code == 200, page.text
    html = page.text
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    svg = html.split('<div class="scroll chart-area">', 1)[1].split("</div>", 1)[0]
    root = ET.fromstring(svg)
    columns = [g for g in root.iter(f"{SVG}g") if "snap" in g.get("class", "").split()]
    assert len(columns) == 4
    alarmed = [g for g in columns if "alarmed" in g.get("class", "").split()]
    assert [g.get("data-index") for g in alarmed] == ["2"]
    tip = alarmed[0].find(f"{SVG}title")
    assert tip is not None and tip.text is not None
    assert "80 deleted" in tip.text and "GUARD ALARM" in tip.text and ids[2][:12] in tip.text
    deleted = {
        g.get("data-index"): float(r.get("height", "0"))
        for g in columns
        for r in g.iter(f"{SVG}rect")
        if r.get("class") == "deleted"
    }
    assert set(deleted) == {"2"}  # only that night deleted anything
    assert f'data-snapshot="{ids[2]}"' in html and "80 files (50%) were deleted" in html
    row = html.split(f'<tr data-snapshot="{ids[2]}"', 1)[1].split("</tr>", 1)[0]
    assert "<td>80</td>" in row

    size = html.split('<section class="card" id="size">', 1)[1]
    points = ET.fromstring(size.split('<div class="scroll chart-area">', 1)[1].split("</div>")[0])
    assert len([g for g in points.iter(f"{SVG}g") if g.get("class") == "point"]) == 4

    phone = chromium.new_page(viewport=PHONE)
    try:
        phone.goto(d.login_url)
        phone.goto(d.base + "/timeline")
        assert phone.locator("g.snap").count() == 4
        assert phone.locator("g.snap.alarmed path.alarm-mark").count() == 1
        phone_fits(phone)
    finally:
        phone.close()


def test_a_plan_source_per_chart_an_unknown_repository_404_an_unreachable_one_said(
    cli_env: dict[str, str], tmp_path: Path, dashboard: list[Dashboard]
) -> None:
    ws = Workspace(tmp_path, cli_env)
    office(ws.src, folders=1, files=5)
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.add("gone", str(ws.root / "gone"), "disk", init=False)  # never created: unreachable
    ws.write()
    env = {k: v for k, v in cli_env.items() if k != "RIPCORD_PASSWORD"}
    d = Dashboard.start(["--plan", str(ws.plan)], env, tmp_path / "ui.log")
    dashboard.append(d)
    c = d.client()
    empty = c.get("/timeline")
    assert empty.status_code == 200
    assert 'data-source="office"' in empty.text and "No snapshot of this source" in empty.text
    assert ws.run(1).code == 1  # usb backed up; gone failed
    page = c.get("/timeline", params={"repository": "usb"})
    assert page.text.count('<g class="snap"') == 1
    assert c.get("/timeline", params={"repository": "nope"}).status_code == 404
    gone = c.get("/timeline", params={"repository": "gone"})
    assert gone.status_code == 503 and "gone cannot be read" in gone.text, gone.text
    assert "no repository at" in gone.text and "Traceback" not in gone.text


def test_a_snapshot_from_before_the_guard_shows_no_deleted_count() -> None:
    old = Snapshot(
        time=datetime(2026, 1, 1, tzinfo=UTC),
        host="h",
        user="u",
        paths=["/x"],
        tree="0" * 64,
        summary={"files_new": 3, "files_changed": 1, "stored_added": 10},
        id="1" * 64,
    )
    f = Figures.of(old, Standing())
    assert (f.added, f.changed, f.deleted, f.stored) == (3, 1, None, 10)
    assert "– deleted" in f.column().tip
