"""Static advice on a plan: what it cannot achieve as written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ripcord.plan.advice import advice
from ripcord.plan.model import (
    CheckPlan,
    Credentials,
    DrillPlan,
    Plan,
    RepositorySpec,
    Source,
)
from ripcord.retention.policy import Policy

SOURCE = Source(name="office", paths=("/srv/office",))
USB = RepositorySpec("usb", "/mnt/usb", "disk", offline=True)
NAS = RepositorySpec("nas", "sftp://nas/x", "nas")
CLOUD = RepositorySpec("cloud", "s3://b/p", "object-storage", offsite=True, immutable=True)


def plan(*repos: RepositorySpec, proofs: bool = True) -> Plan:
    return Plan(
        Path("p.toml"),
        (SOURCE,),
        repos,
        retention=Policy(keep_daily=7) if proofs else None,
        check=CheckPlan(every=timedelta(days=7)) if proofs else None,
        drill=DrillPlan(every=timedelta(days=7)) if proofs else None,
    )


def test_a_plan_that_can_meet_every_rule_gets_no_advice() -> None:
    assert advice(plan(USB, NAS, CLOUD)) == []


def test_each_missing_rule_is_named() -> None:
    assert advice(plan(NAS)) == [
        "only 2 copies (the live data and 1 repository): 3-2-1 needs 3, so two repositories",
        "no repository is offsite: 3-2-1 needs one copy in another building",
        "no repository is immutable or offline: 3-2-1-1-0 needs one copy that ransomware on"
        " this machine cannot change",
    ]
    same = RepositorySpec("nas2", "/mnt/nas2", "nas", offsite=True, offline=True)
    assert advice(plan(NAS, same)) == [
        "every repository is on media 'nas': 3-2-1 needs 2 different media"
    ]


def test_missing_proofs_and_retention_are_named() -> None:
    assert advice(plan(USB, CLOUD, proofs=False)) == [
        "no [check]: the '0 errors' of 3-2-1-1-0 needs a recent check of each copy",
        "no [drill]: the '0 errors' of 3-2-1-1-0 needs a recent restore drill",
        "no [retention]: nothing is ever forgotten, so each repository only grows",
    ]


def test_immutable_claimed_where_the_store_cannot_refuse_deletes() -> None:
    local = RepositorySpec("usb", "/mnt/usb", "disk", offsite=True, immutable=True)
    sftp = RepositorySpec("nas", "sftp://nas/x", "nas", immutable=True)
    assert advice(plan(local, sftp)) == [
        "repository 'usb' says immutable = true, but a local directory cannot refuse deletes:"
        " status will not count it as immutable",
        "repository 'nas' says immutable = true, but an SFTP server cannot refuse deletes:"
        " status will not count it as immutable",
    ]


def test_password_files_missing_or_open_to_others(tmp_path: Path) -> None:
    secret = tmp_path / "ok.pass"
    secret.write_text("pw")
    secret.chmod(0o600)
    shared = tmp_path / "shared.pass"
    shared.write_text("pw")
    shared.chmod(0o640)
    repos = [
        RepositorySpec("a", "/a", "disk", credentials=Credentials(str(secret))),
        RepositorySpec("b", "/b", "ssd", credentials=Credentials(str(shared))),
        RepositorySpec("c", "s3://c", "object-storage", offsite=True, immutable=True,
                       credentials=Credentials(str(tmp_path / "gone.pass"))),
    ]  # fmt: skip
    assert advice(plan(*repos)) == [
        f"repository 'b': password file {shared} is open to group or others (mode 640):"
        " chmod 600 it",
        f"repository 'c': password file {tmp_path}/gone.pass cannot be read:"
        " No such file or directory",
    ]
