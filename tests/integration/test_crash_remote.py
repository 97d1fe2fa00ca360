"""Crash consistency on SFTP (a real sshd) and S3 (a real SeaweedFS): each command killed
at a seeded sample of its store calls (any call: a read between two writes too) and at a
seeded moment, with every check of tests/crash/harness.py after each kill.

bench/soak.py walks every call instead of a sample.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.harness import count, every_call, moments, sample, trials
from tests.crash.scenarios import SCENARIOS, Base
from tests.crash.sites import S3Site, SftpSite, Site
from tests.s3server import S3Server, s3_server  # noqa: F401 (the fixture)
from tests.sshserver import SshServer, sshd_fixture  # noqa: F401 (the fixture)

SEED = 8
CALLS = 4  # store calls sampled per command and store
MOMENTS = 1


@pytest.fixture(params=["sftp", "s3"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "sftp":
        server: SshServer = request.getfixturevalue("sshd")
        yield SftpSite(tmp_path, server)
        return
    s3 = S3Site(request.getfixturevalue("s3_server"))
    yield s3
    s3.close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_kill_at_a_sampled_call_or_moment_loses_nothing_and_the_rerun_finishes(
    scenario: type[Base], site: Site, tmp_path: Path
) -> None:
    s = scenario()
    world = s.prepare(site, tmp_path / s.name)
    counted = count(world, site)
    rng = random.Random(f"{SEED}-{s.name}-{site.name}")
    kills = sample(every_call(counted.calls), CALLS, rng) + moments(counted.seconds, MOMENTS, rng)
    outcomes = list(trials(s, site, world, kills))
    assert len(outcomes) == CALLS + MOMENTS
    assert all(o.killed for o in outcomes[:CALLS]), outcomes
