"""Templates print any name: one that was not UTF-8 shows escaped, never fails the page."""

from __future__ import annotations

import os

from ripcord.ui.render import env


def test_a_name_that_is_not_utf8_is_shown_escaped_and_html_is_escaped() -> None:
    name = os.fsdecode(b"caf\xe9 <b>")
    html = env.from_string("<p>{{ name }}</p>").render(name=name)
    assert html == "<p>caf\\xe9 &lt;b&gt;</p>"
    html.encode()  # the page can be sent


def test_a_restore_job_names_each_file_it_could_not_restore_or_prove() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from ripcord.archive.restore import RestoreReport
    from ripcord.ui.restore import RestoreDone
    from ripcord.ui.work import WARN, Job

    report = RestoreReport(files=2, verify_failed=["/a/bad.bin"], errors=[("/a/<x>", "EIO")])
    job = Job("1", "restore", "restore of /a", datetime.now(UTC), status=WARN)
    job.result = RestoreDone("/srv/back", report)
    site = SimpleNamespace(title="t", now=lambda: datetime.now(UTC))
    html = env.get_template("job.html").render(
        job=job, view="restore", site=site, nav=(), here="/", csrf="", csrf_field=lambda: ""
    )
    result = html.split('id="result"', 1)[1]
    assert "Restored to <code>/srv/back</code>" in result
    assert "verification failed: <code>/a/bad.bin</code>" in result
    assert "not restored: <code>/a/&lt;x&gt;</code>: EIO" in result


def test_any_token_or_csrf_a_client_sends_is_compared_never_a_crash() -> None:
    from ripcord.ui.auth import Auth, Session, csrf_ok

    auth = Auth(token="t" * 43, password="pw")
    for given in ("é" * 43, "\ud800", "", "t" * 42):
        assert not auth.check_secret(given) and not auth.check_secret(given, password=True)
        assert not csrf_ok(Session("c" * 43, 0.0), given)
    assert auth.check_secret("t" * 43) and csrf_ok(Session("c" * 43, 0.0), "c" * 43)
