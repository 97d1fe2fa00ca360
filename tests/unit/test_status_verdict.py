"""The 3-2-1-1-0 verdict: each rule breaks for its own reason, said in plain words."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ripcord.plan.model import CheckPlan, DrillPlan, Plan, RepositorySpec, Source
from ripcord.plan.state import CopyState, Immutability, Newest, Proof
from ripcord.plan.status import Rule, ago, belongs, span, verdict
from ripcord.repository import Snapshot

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SOURCE = Source("office", ("/srv/office",))
LOCKED = Immutability(True, "S3 Object Lock: snapshot aaaa is locked until 2026-12-24")
DIRECTORY = Immutability(False, "a directory, where whoever can write backups can delete them")


def spec(name: str, media: str, **kw: Any) -> RepositorySpec:
    return RepositorySpec(name, f"/mnt/{name}", media, **kw)


def office(*repos: RepositorySpec, **kw: Any) -> Plan:
    """The office plan: usb (disk, offline), nas (nas), cloud (offsite, immutable)."""
    repos = repos or (
        spec("usb", "disk", offline=True),
        spec("nas", "nas"),
        spec("cloud", "object-storage", offsite=True, immutable=True),
    )
    return Plan(
        Path("/etc/ripcord/office.toml"),
        (SOURCE,),
        repos,
        check=CheckPlan(every=DAY),
        drill=DrillPlan(every=7 * DAY),
        **kw,
    )


def good(name: str, age: timedelta = 2 * HOUR, **kw: Any) -> CopyState:
    """A copy backed up `age` ago, checked and drilled since, clean."""
    fields: dict[str, Any] = {
        "repository": name,
        "reachable": True,
        "observed": NOW,
        "newest": (Newest("office", "a" * 64, NOW - age),),
        "check": Proof("c" * 64, NOW - HOUR, "pass", 0),
        "drill": Proof("d" * 64, NOW - 2 * DAY, "pass", 0),
        "immutable": LOCKED if name == "cloud" else DIRECTORY,
    }
    return CopyState(**(fields | kw))


def green() -> list[CopyState]:
    return [good("usb"), good("nas"), good("cloud")]


def rules(plan: Plan, states: list[CopyState]) -> dict[str, Rule]:
    return {r.name: r for r in verdict(plan, states, NOW)}


def broken(plan: Plan, states: list[CopyState]) -> dict[str, str]:
    return {r.name: r.reason for r in verdict(plan, states, NOW) if not r.holds}


def test_every_rule_holds_for_the_office() -> None:
    found = rules(office(), green())
    assert list(found) == ["3 copies", "2 media", "1 offsite", "1 immutable or offline", "0 errors"]
    assert all(r.holds for r in found.values())
    assert (
        found["3 copies"].reason == "4 copies are current: the live data, 'usb', 'nas' and 'cloud'"
    )
    assert found["2 media"].reason == "the current copies are on disk, nas and object-storage"
    assert found["1 offsite"].reason == "'cloud' is offsite and current"
    assert found["1 immutable or offline"].reason == (
        "'usb' is kept offline; 'cloud' is immutable (" + LOCKED.how + ")"
    )


def test_an_unreachable_copy_is_not_current_and_says_when_it_last_succeeded() -> None:
    plan = office(spec("nas", "nas"), spec("cloud", "object-storage", offsite=True))
    nas = dataclasses.replace(
        good("nas"), reachable=False, observed=NOW - 4 * DAY, error="connection refused"
    )
    assert broken(plan, [nas, good("cloud")])["3 copies"] == (
        "only 2 copies are current (the live data and 'cloud'):"
        " 'nas' is unreachable (connection refused); it last succeeded 4 days ago"
    )


def test_a_copy_never_reached_says_so() -> None:
    plan = office(spec("nas", "nas"), spec("cloud", "object-storage", offsite=True))
    found = broken(plan, [CopyState("nas", False, error="no route to host"), good("cloud")])
    assert found["3 copies"].endswith(": 'nas' is unreachable (no route to host)")
    assert found["0 errors"] == "'nas' was never reached: its checks and drills are unknown"


def test_a_stale_copy_is_not_current() -> None:
    found = broken(office(), [good("usb"), good("nas", age=4 * DAY), good("cloud")])
    assert list(found) == []  # 3 of 4 current: the live data, usb and cloud
    found = broken(office(), [good("usb", age=27 * HOUR), good("nas", age=4 * DAY), good("cloud")])
    assert found["3 copies"] == (
        "only 2 copies are current (the live data and 'cloud'): 'usb' last succeeded 27 hours"
        " ago (its newest snapshot of 'office' is older than the RPO of 26 hours);"
        " 'nas' last succeeded 4 days ago (its newest snapshot of 'office' is older than the"
        " RPO of 26 hours)"
    )


def test_a_copy_without_the_source_is_not_current() -> None:
    empty = good("nas", newest=(Newest("office"),))
    found = broken(office(), [good("usb", age=3 * DAY), empty, good("cloud")])
    assert "'nas' holds no snapshot of 'office'" in found["3 copies"]


def test_two_copies_on_the_same_media_break_the_media_rule() -> None:
    plan = office(
        spec("usb", "disk", offline=True),
        spec("nas", "disk"),
        spec("cloud", "object-storage", offsite=True, immutable=True),
    )
    stale_cloud = good("cloud", age=3 * DAY)
    found = broken(plan, [good("usb"), good("nas"), stale_cloud])
    assert found["2 media"] == (
        "'usb' and 'nas' are both on media 'disk'; 'cloud' last succeeded 3 days ago (its"
        " newest snapshot of 'office' is older than the RPO of 26 hours) (media 'object-storage')"
    )
    only = office(spec("usb", "disk", offline=True))
    assert broken(only, [good("usb")])["2 media"] == "only 'usb' is current, on media 'disk'"


def test_no_offsite_copy_breaks_the_offsite_rule() -> None:
    plan = office(spec("usb", "disk", offline=True), spec("nas", "nas"))
    found = broken(plan, [good("usb"), good("nas")])
    assert found == {"1 offsite": "no repository of the plan is offsite (offsite = true)"}
    found = broken(office(), [good("usb"), good("nas"), good("cloud", age=2 * DAY)])
    assert found["1 offsite"].startswith(
        "no offsite copy is current: 'cloud' last succeeded 2 days"
    )


def test_an_unbacked_immutability_claim_is_reported_and_breaks_the_rule_alone() -> None:
    plan = office(spec("nas", "nas"), spec("cloud", "object-storage", offsite=True, immutable=True))
    plain = Immutability(False, "the bucket has no Object Lock, so backups can be deleted")
    found = broken(plan, [good("nas"), good("cloud", immutable=plain)])
    assert found == {
        "1 immutable or offline": "'cloud' is said to be immutable, but is not: the bucket has"
        " no Object Lock, so backups can be deleted"
    }
    # with an offline copy the rule holds, and the false claim is still said
    held = rules(office(), [good("usb"), good("nas"), good("cloud", immutable=plain)])
    assert held["1 immutable or offline"].holds
    assert (
        "'cloud' is said to be immutable, but is not: the bucket"
        in held["1 immutable or offline"].reason
    )


def test_nothing_immutable_or_offline_breaks_the_rule() -> None:
    plan = office(spec("nas", "nas"), spec("cloud", "object-storage", offsite=True))
    assert broken(plan, [good("nas"), good("cloud", immutable=DIRECTORY)]) == {
        "1 immutable or offline": "no copy is immutable (S3 Object Lock, an append-only"
        " server) or kept offline"
    }


def test_an_offline_copy_not_connected_is_judged_by_its_last_observation() -> None:
    seen = dataclasses.replace(
        good("usb"), reachable=False, error="no repository there", observed=NOW - 2 * HOUR
    )
    assert broken(office(), [seen, good("nas"), good("cloud")]) == {}
    old = dataclasses.replace(seen, newest=(Newest("office", "a" * 64, NOW - 3 * DAY),))
    found = rules(office(), [old, good("nas"), good("cloud")])
    assert found["3 copies"].holds  # live, nas and cloud
    assert found["1 immutable or offline"].reason == "'cloud' is immutable (" + LOCKED.how + ")"


def test_a_failed_drill_breaks_zero_errors_with_its_date() -> None:
    failed = Proof("d" * 64, datetime(2026, 11, 20, 3, 0, tzinfo=UTC), "fail", 2, "/a: gone")
    found = broken(office(), [good("usb"), good("nas"), good("cloud", drill=failed)])
    assert found == {"0 errors": "the last drill of 'cloud' failed on 2026-11-20 (/a: gone)"}


def test_a_check_with_errors_breaks_zero_errors() -> None:
    bad = Proof("c" * 64, NOW - HOUR, "fail", 3, "damaged-pack: data/aa/aa: damaged")
    found = broken(office(), [good("usb", check=bad), good("nas"), good("cloud")])
    assert found["0 errors"] == (
        "the last check of 'usb' found 3 errors on 2026-11-24 (damaged-pack: data/aa/aa: damaged)"
    )


def test_never_checked_or_drilled_or_too_long_ago_breaks_zero_errors() -> None:
    old = Proof("c" * 64, NOW - 3 * DAY, "pass", 0)
    states = [good("usb", check=None), good("nas", drill=None), good("cloud", check=old)]
    assert broken(office(), states)["0 errors"] == (
        "'usb' was never checked; 'nas' was never drilled;"
        " the last check of 'cloud' is 3 days old (checks are due every 1 day)"
    )
    # without a schedule, any age will do, but never is never
    unscheduled = dataclasses.replace(office(), check=None, drill=None)
    assert "0 errors" not in broken(
        unscheduled, [good("usb"), good("nas"), good("cloud", check=old)]
    )


def test_belongs_takes_the_plan_host_and_the_paths_as_a_backup_records_them() -> None:
    def snap(host: str, *paths: str) -> Snapshot:
        return Snapshot(NOW, host, "u", list(paths), "t" * 64)

    plan = office()
    here = socket.gethostname()
    two = Source("two", ("/srv/b/", "/srv/a", "/srv/a/inside"))
    assert belongs(plan, SOURCE, snap(here, "/srv/office"))
    assert belongs(plan, two, snap(here, "/srv/a", "/srv/b"))
    assert not belongs(plan, SOURCE, snap("elsewhere", "/srv/office"))
    assert not belongs(plan, SOURCE, snap(here, "/srv/office", "/srv/other"))
    named = dataclasses.replace(plan, host="fileserver")
    assert belongs(named, SOURCE, snap("fileserver", "/srv/office"))
    assert not belongs(named, SOURCE, snap(here, "/srv/office"))


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=5), "5 seconds"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=90), "90 minutes"),
        (26 * HOUR, "26 hours"),
        (2 * DAY, "2 days"),
        (15 * DAY, "15 days"),
        (DAY, "1 day"),
        (HOUR, "1 hour"),
        (22 * DAY, "3 weeks"),
    ],
)
def test_spans_read_as_people_say_them(delta: timedelta, words: str) -> None:
    assert span(delta) == words
    assert ago(NOW, NOW - delta) == f"{words} ago"
