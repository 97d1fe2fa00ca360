"""The guard's rules, on change counts alone: thresholds, history, slow encryption."""

from __future__ import annotations

from ripcord.guard.changes import ChangeStats
from ripcord.guard.verdict import ALARM, OK, WARN, GuardSettings, Verdict, judge, summary_of


def stats(**kw: int) -> ChangeStats:
    s = ChangeStats(files_before=1000, files_after=1000)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def day(**kw: int) -> dict[str, int]:
    """The summary an ordinary earlier backup left."""
    return summary_of(stats(**kw), Verdict())


def test_a_quiet_day_is_ok() -> None:
    assert judge(stats(added=5, modified=20, deleted=3), []).level == OK


def test_encryption_of_a_few_percent_of_files_is_an_alarm() -> None:
    v = judge(stats(modified=50, turned_random=50), [day()])
    assert v.level == ALARM and v.score >= 1
    assert "50 files (5.0%) changed like encryption" in v.reasons[0]
    assert judge(stats(modified=3, turned_random=3), [day()]).level == WARN  # a few: a warning


def test_a_source_that_encrypts_files_every_day_raises_its_own_bar() -> None:
    usual = [day(turned_random=60, modified=60) for _ in range(5)]
    assert judge(stats(modified=60, turned_random=60), usual).level == WARN
    assert judge(stats(modified=200, turned_random=200), usual).level == ALARM


def test_slow_encryption_is_caught_by_the_growing_share_of_random_files() -> None:
    history = [day(random_files=10 + 5 * i) for i in range(3)]  # 1.0% .. 2.0%
    v = judge(stats(random_files=22, turned_random=5, modified=5), history)
    assert v.level == ALARM and any("grew from 1.0% to 2.2%" in r for r in v.reasons)
    flat = [day(random_files=10) for _ in range(3)]
    assert judge(stats(random_files=12), flat).level == OK


def test_mass_deletion_warns_then_alarms() -> None:
    assert judge(stats(deleted=30), []).level == WARN
    assert judge(stats(deleted=300), []).level == ALARM
    usual = [day(deleted=200) for _ in range(3)]  # a source that deletes a fifth daily
    assert judge(stats(deleted=300), usual).level == OK  # under twice its usual
    assert judge(stats(deleted=500), usual).level == ALARM


def test_a_vanished_folder_is_named_in_the_alarm_and_a_big_one_warns_alone() -> None:
    s = stats(deleted=60)
    s.deleted_dirs = [("/srv/office/projects/acme", 40)]
    v = judge(s, [])
    assert v.level == ALARM
    assert "folder /srv/office/projects/acme vanished with 40 files" in v.reasons[0]
    big = stats(deleted=55)
    big.files_before = big.files_after = 100_000  # 0.06%: under every share
    big.deleted_dirs = [("/srv/office/old", 55)]
    assert judge(big, []).level == WARN
    big.deleted_dirs = [("/srv/office/old", 25)]  # named, but too small to warn alone
    assert judge(big, []).level == OK


def test_settings_change_the_bar() -> None:
    strict = GuardSettings(encrypted_files=2, encrypted_share=0.001)
    assert judge(stats(modified=3, turned_random=3), [day()], strict).level == ALARM


def test_a_handful_of_deleted_files_is_an_edit() -> None:
    small = ChangeStats(files_before=10, files_after=6, deleted=4)
    assert judge(small, []).level == OK


def test_an_alarm_nobody_wanted_teaches_nothing_and_restarts_the_slow_baseline() -> None:
    attack = {**day(turned_random=200, modified=200, random_files=210), "guard_level": 2}
    quiet = [day(random_files=10) for _ in range(3)]
    # called intentional, it is this source's normal: the same again is only a warning
    assert judge(stats(modified=200, turned_random=200), [*quiet, attack]).level == WARN
    unwanted = {**attack, "guard_unwanted": 1}
    assert judge(stats(modified=200, turned_random=200), [*quiet, unwanted]).level == ALARM
    # the day after, the random share is judged from the alarm on, not from before it
    assert judge(stats(random_files=211, modified=4), [*quiet, attack]).level == OK
