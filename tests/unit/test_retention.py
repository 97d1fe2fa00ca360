"""Retention decisions: restic-like buckets, plus the rules that planted snapshots cannot beat."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ripcord.errors import UsageError
from ripcord.repository import Snapshot
from ripcord.retention import Decision, Policy, decide, group_key
from ripcord.retention.policy import DEFAULT_SKEW, FUTURE_NOTE, NEWEST, SUSPICIOUS_NOTE

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def snap(
    time: datetime,
    host: str = "laptop",
    paths: tuple[str, ...] = ("/home",),
    tags: tuple[str, ...] = (),
    salt: str = "",
) -> Snapshot:
    """A snapshot whose id is derived from its fields, so equal inputs give equal ids."""
    ident = hashlib.sha256(f"{time.isoformat()}|{host}|{paths}|{tags}|{salt}".encode()).hexdigest()
    return Snapshot(
        time=time,
        host=host,
        user="me",
        paths=list(paths),
        tree="ab" * 32,
        tags=list(tags),
        id=ident,
    )


def every(start: datetime, step: timedelta, count: int, **kw: object) -> list[Snapshot]:
    return [snap(start + i * step, **kw) for i in range(count)]  # type: ignore[arg-type]


def kept(decisions: list[Decision]) -> dict[datetime, list[str]]:
    """Kept snapshots' times (UTC) mapped to their reasons."""
    return {d.snapshot.time.astimezone(UTC): d.reasons for d in decisions if d.keep}


def test_keep_last_keeps_the_n_newest_with_their_rank() -> None:
    snaps = every(NOW - timedelta(days=10), timedelta(days=1), 10)
    out = kept(decide(snaps, Policy(keep_last=3), NOW, tz=UTC))
    assert out == {
        NOW - timedelta(days=1): [NEWEST, "last 1"],
        NOW - timedelta(days=2): ["last 2"],
        NOW - timedelta(days=3): ["last 3"],
    }


def test_daily_keeps_the_newest_of_each_of_the_last_n_days() -> None:
    # every 6 hours from Nov 20 00:00 to Nov 25 18:00
    snaps = every(datetime(2026, 11, 20, tzinfo=UTC), timedelta(hours=6), 24)
    out = kept(decide(snaps, Policy(keep_daily=3), NOW, tz=UTC))
    assert out == {
        datetime(2026, 11, 25, 18, tzinfo=UTC): [NEWEST, "daily 2026-11-25"],
        datetime(2026, 11, 24, 18, tzinfo=UTC): ["daily 2026-11-24"],
        datetime(2026, 11, 23, 18, tzinfo=UTC): ["daily 2026-11-23"],
    }


def test_hourly_buckets_skip_empty_hours() -> None:
    times = [
        datetime(2026, 11, 26, h, m, tzinfo=UTC) for h, m in [(8, 5), (8, 50), (10, 0), (11, 1)]
    ]
    out = kept(decide([snap(t) for t in times], Policy(keep_hourly=3), NOW, tz=UTC))
    assert sorted(out) == [times[1], times[2], times[3]]
    assert out[times[1]] == ["hourly 2026-11-26 08:00"]


def test_weekly_uses_iso_weeks_across_new_year() -> None:
    # Mon 2025-12-29 .. Sun 2026-01-04 is ISO week 2026-W01; daily snapshots Dec 20 .. Jan 9
    snaps = every(datetime(2025, 12, 20, 3, tzinfo=UTC), timedelta(days=1), 21)
    out = kept(decide(snaps, Policy(keep_weekly=3), NOW, tz=UTC))
    assert out == {
        datetime(2026, 1, 9, 3, tzinfo=UTC): [NEWEST, "weekly 2026-W02"],
        datetime(2026, 1, 4, 3, tzinfo=UTC): ["weekly 2026-W01"],
        datetime(2025, 12, 28, 3, tzinfo=UTC): ["weekly 2025-W52"],
    }


def test_monthly_and_yearly_buckets_combine() -> None:
    # the 15th of every month, Jan 2024 .. Nov 2026
    snaps = [snap(datetime(y, m, 15, tzinfo=UTC)) for y in (2024, 2025, 2026) for m in range(1, 13)]
    snaps = [s for s in snaps if s.time < NOW]
    out = kept(decide(snaps, Policy(keep_monthly=2, keep_yearly=3), NOW, tz=UTC))
    assert out == {
        datetime(2026, 11, 15, tzinfo=UTC): [NEWEST, "monthly 2026-11", "yearly 2026"],
        datetime(2026, 10, 15, tzinfo=UTC): ["monthly 2026-10"],
        datetime(2025, 12, 15, tzinfo=UTC): ["yearly 2025"],
        datetime(2024, 12, 15, tzinfo=UTC): ["yearly 2024"],
    }


def test_buckets_are_cut_in_the_given_time_zone() -> None:
    late = snap(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    early = snap(datetime(2026, 11, 25, 0, 30, tzinfo=UTC))
    policy = Policy(keep_daily=5)
    assert len(kept(decide([late, early], policy, NOW, tz=UTC))) == 2
    # in UTC+2 both fall on Nov 25: one bucket, the newer wins
    plus2 = kept(decide([late, early], policy, NOW, tz=timezone(timedelta(hours=2))))
    assert plus2 == {early.time: [NEWEST, "daily 2026-11-25"]}


def test_keep_within_counts_back_from_now_not_from_the_newest_snapshot() -> None:
    # the newest snapshot is 10 days old: restic would keep the 3 days before it
    snaps = every(NOW - timedelta(days=20), timedelta(days=1), 11)
    out = kept(decide(snaps, Policy(keep_within=timedelta(days=3)), NOW))
    assert out == {NOW - timedelta(days=10): [NEWEST]}
    recent = [*snaps, snap(NOW - timedelta(days=2)), snap(NOW - timedelta(hours=1))]
    out = kept(decide(recent, Policy(keep_within=timedelta(days=3)), NOW))
    assert out == {
        NOW - timedelta(hours=1): ["within 3d", NEWEST],
        NOW - timedelta(days=2): ["within 3d"],
    }


def test_keep_tags_keeps_every_tagged_snapshot() -> None:
    old = snap(NOW - timedelta(days=400), tags=("nightly", "x"))
    other = snap(NOW - timedelta(days=300), tags=("weekly",))
    newest = snap(NOW - timedelta(days=1), tags=("nightly",))
    decisions = decide([old, other, newest], Policy(keep_tags={"nightly"}, group_by=()), NOW)
    assert kept(decisions) == {old.time: ["tag nightly"], newest.time: ["tag nightly", NEWEST]}


def test_group_by_separates_hosts_paths_and_tags() -> None:
    a = every(NOW - timedelta(days=5), timedelta(days=1), 3, host="a")
    b = every(NOW - timedelta(days=9), timedelta(days=1), 3, host="b")
    out = kept(decide(a + b, Policy(keep_last=1), NOW))
    assert sorted(out) == [b[-1].time, a[-1].time]
    # one group when hosts are not told apart
    assert sorted(kept(decide(a + b, Policy(keep_last=1, group_by=("paths",)), NOW))) == [
        a[-1].time
    ]
    tagged = snap(NOW - timedelta(days=30), host="a", tags=("manual",))
    out = kept(decide([*a, tagged], Policy(keep_last=1, group_by=("host", "tags")), NOW))
    assert sorted(out) == [tagged.time, a[-1].time]
    assert group_key(snap(NOW, paths=("/b", "/a")), ("paths",)) == group_key(
        snap(NOW, paths=("/a", "/b")), ("paths",)
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (Policy(), "no keep rule given: refusing to forget everything"),
        (Policy(group_by=("host",)), "refusing to forget everything"),
        (Policy(keep_daily=-1), "must not be negative"),
        (Policy(keep_within=timedelta(days=-1)), "must not be negative"),
        (Policy(keep_last=1, group_by=("user",)), "cannot group by user"),
    ],
)
def test_bad_policies_are_refused(policy: Policy, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        decide([snap(NOW)], policy, NOW)


def test_future_snapshots_fill_no_quota_and_are_never_newest() -> None:
    real = every(NOW - timedelta(days=5), timedelta(days=1), 5)
    planted = [snap(NOW + timedelta(days=365 * i)) for i in range(1, 4)]
    decisions = decide(real + planted, Policy(keep_last=2, keep_within=timedelta(days=9999)), NOW)
    by_id = {d.snapshot.id: d for d in decisions}
    for p in planted:
        assert not by_id[p.id].keep
        assert by_id[p.id].reasons == []
        assert by_id[p.id].notes == [FUTURE_NOTE]
    assert by_id[real[-1].id].reasons == ["within 9999d", NEWEST, "last 1"]
    assert by_id[real[-2].id].reasons == ["within 9999d", "last 2"]


def test_future_snapshots_are_kept_only_if_protected_or_tagged() -> None:
    tagged = snap(NOW + timedelta(days=30), tags=("keep",))
    guarded = snap(NOW + timedelta(days=60))
    real = snap(NOW - timedelta(days=1))
    decisions = decide(
        [tagged, guarded, real], Policy(keep_tags={"keep"}), NOW, protected={guarded.id}
    )
    assert [(d.snapshot.id, d.keep, d.reasons, d.notes) for d in decisions] == [
        (guarded.id, True, ["protected"], [FUTURE_NOTE]),
        (tagged.id, True, ["tag keep"], [FUTURE_NOTE]),
        (real.id, True, [NEWEST], []),
    ]


def test_clock_skew_within_tolerance_is_not_future() -> None:
    ahead = snap(NOW + DEFAULT_SKEW)
    too_far = snap(NOW + DEFAULT_SKEW + timedelta(seconds=1))
    decisions = decide([ahead, too_far], Policy(keep_last=1), NOW)
    assert kept(decisions) == {ahead.time: [NEWEST, "last 1"]}


def test_suspicious_snapshots_fill_no_quota() -> None:
    snaps = every(NOW - timedelta(days=5), timedelta(days=1), 5)
    flagged = {s.id for s in snaps[-2:]}
    decisions = decide(snaps, Policy(keep_last=2), NOW, suspicious=flagged)
    assert kept(decisions) == {
        snaps[-3].time: [NEWEST, "last 1"],
        snaps[-4].time: ["last 2"],
    }
    assert [d.notes for d in decisions[:2]] == [[SUSPICIOUS_NOTE]] * 2


def test_protected_snapshots_are_kept() -> None:
    snaps = every(NOW - timedelta(days=50), timedelta(days=1), 5)
    out = kept(decide(snaps, Policy(keep_last=1), NOW, protected={snaps[0].id}))
    assert out == {snaps[0].time: ["protected"], snaps[-1].time: [NEWEST, "last 1"]}


def test_newest_trustworthy_is_kept_even_when_no_rule_matches_it() -> None:
    snaps = every(NOW - timedelta(days=50), timedelta(days=1), 5)
    out = kept(decide(snaps, Policy(keep_tags={"nope"}), NOW))
    assert out == {snaps[-1].time: [NEWEST]}


# --- properties -------------------------------------------------------------

ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
GROUP_FIELDS = ("host", "paths", "tags")


@st.composite
def snapshot_lists(draw: st.DrawFn, max_size: int = 12) -> list[Snapshot]:
    """Snapshots around NOW (some in the future), few hosts/paths/tags so groups and ties occur."""
    times = st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2027, 6, 1),
        timezones=st.sampled_from(ZONES),
    )
    # a coarse grid of times as well, so that equal times and shared buckets happen
    grid = st.integers(-800, 10).map(lambda h: NOW + timedelta(hours=h * 7))
    items = draw(
        st.lists(
            st.tuples(
                times | grid,
                st.sampled_from(["a", "b"]),
                st.sampled_from([("/home",), ("/etc", "/home"), ("/srv",)]),
                st.lists(st.sampled_from(["nightly", "manual"]), max_size=2, unique=True),
            ),
            max_size=max_size,
        )
    )
    return [
        snap(t, host=h, paths=p, tags=tuple(tags), salt=f"{draw(st.integers(0, 3))}:{i}")
        for i, (t, h, p, tags) in enumerate(items)
    ]


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    counts = st.integers(0, 4)
    policy = Policy(
        keep_last=draw(counts),
        keep_hourly=draw(counts),
        keep_daily=draw(counts),
        keep_weekly=draw(counts),
        keep_monthly=draw(counts),
        keep_yearly=draw(counts),
        keep_within=draw(st.none() | st.integers(0, 400).map(lambda d: timedelta(days=d))),
        keep_tags=draw(st.frozensets(st.sampled_from(["nightly", "manual"]))),
        group_by=tuple(f for f in GROUP_FIELDS if draw(st.booleans())),
    )
    assume(
        any([policy.keep_last, policy.keep_within is not None, policy.keep_tags])
        or any(policy.count(p) for p in ("hourly", "daily", "weekly", "monthly", "yearly"))
    )
    return policy


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Snapshot], Policy, frozenset[str], frozenset[str]]:
    snaps = draw(snapshot_lists())
    ids = sorted(s.id for s in snaps)
    protected = frozenset(draw(st.lists(st.sampled_from(ids), max_size=3))) if ids else frozenset()
    suspicious = frozenset(draw(st.lists(st.sampled_from(ids), max_size=3))) if ids else frozenset()
    return snaps, draw(policies()), protected, suspicious


def trustworthy(s: Snapshot, suspicious: frozenset[str]) -> bool:
    return s.time - NOW <= DEFAULT_SKEW and s.id not in suspicious


@given(scenarios(), st.sampled_from(ZONES))
def test_newest_trustworthy_of_every_group_and_protected_are_kept(
    scenario: tuple[list[Snapshot], Policy, frozenset[str], frozenset[str]],
    tz: timezone,
) -> None:
    snaps, policy, protected, suspicious = scenario
    decisions = decide(snaps, policy, NOW, protected, suspicious, tz=tz)
    keep = {d.snapshot.id for d in decisions if d.keep}
    newest: dict[object, Snapshot] = {}
    for s in snaps:
        if trustworthy(s, suspicious):
            key = group_key(s, policy.group_by)
            if key not in newest or (s.time, s.id) > (newest[key].time, newest[key].id):
                newest[key] = s
    assert {s.id for s in newest.values()} <= keep
    assert protected <= keep
    assert sorted(d.snapshot.id for d in decisions) == sorted(s.id for s in snaps)
    for d in decisions:
        # kept exactly when there is a reason
        assert d.keep == bool(d.reasons)
        if d.snapshot.time - NOW > DEFAULT_SKEW:
            assert FUTURE_NOTE in d.notes
            assert set(d.reasons) <= {"protected"} | {f"tag {t}" for t in policy.keep_tags}


@given(scenarios(), snapshot_lists(max_size=6), st.data())
def test_planted_snapshots_never_evict_a_kept_trustworthy_one(
    scenario: tuple[list[Snapshot], Policy, frozenset[str], frozenset[str]],
    extra: list[Snapshot],
    data: st.DataObject,
) -> None:
    snaps, policy, protected, suspicious = scenario
    before = decide(snaps, policy, NOW, protected, suspicious, tz=UTC)
    known = {s.id for s in snaps}
    planted = [s for s in extra if s.id not in known]
    # a planted snapshot is either dated in the future or flagged suspicious
    flagged = frozenset(
        s.id for s in planted if s.time - NOW <= DEFAULT_SKEW or data.draw(st.booleans())
    )
    after = decide(snaps + planted, policy, NOW, protected, suspicious | flagged, tz=UTC)
    still = {d.snapshot.id for d in after if d.keep}
    for d in before:
        if d.keep and trustworthy(d.snapshot, suspicious):
            assert d.snapshot.id in still


@given(scenarios(), st.randoms(use_true_random=False))
def test_decide_is_deterministic_and_ignores_input_order(
    scenario: tuple[list[Snapshot], Policy, frozenset[str], frozenset[str]],
    rnd: object,
) -> None:
    snaps, policy, protected, suspicious = scenario
    shuffled = list(snaps)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    first = decide(snaps, policy, NOW, protected, suspicious, tz=UTC)
    assert decide(shuffled, policy, NOW, protected, suspicious, tz=UTC) == first
    assert decide(snaps, policy, NOW, protected, suspicious, tz=UTC) == first
