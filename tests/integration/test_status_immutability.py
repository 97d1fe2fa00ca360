"""status asks the store whether a copy is immutable: a real SeaweedFS (a bucket with
Object Lock and ripcord's locks, one with Object Lock but unlocked objects, a plain one)
and a real `ripcord serve` (append-only or not)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UrlCli
from tests.restserver import RestServer, rest_server, running_rest_server  # noqa: F401
from tests.s3server import S3Server, s3_server  # noqa: F401 (the fixture)

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")


def immutable(cli: UrlCli, src: Path, *init: str) -> dict[str, Any]:
    cli.ok("init", *FAST, *init)
    cli.ok("backup", str(src))
    doc: dict[str, Any] = cli.ok("status", "--json").json["immutable"]
    return doc


@pytest.fixture
def s3_cli(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> Iterator[Any]:
    def make(object_lock: bool) -> UrlCli:
        bucket = s3_server.new_bucket(object_lock=object_lock)
        return UrlCli(s3_server.url(bucket), {**cli_env, **s3_server.env()})

    yield make


def test_a_bucket_with_object_lock_and_locked_objects_is_immutable(s3_cli: Any, src: Path) -> None:
    found = immutable(s3_cli(True), src, "--object-lock", "governance", "--retention", "2d")
    assert found["verified"]
    assert found["how"].startswith("S3 Object Lock: snapshot ")
    assert " is locked in governance mode until " in found["how"]


def test_object_lock_on_the_bucket_without_locked_objects_is_not_immutable(
    s3_cli: Any, src: Path
) -> None:
    found = immutable(s3_cli(True), src)
    assert not found["verified"]
    assert found["how"].startswith("the bucket has Object Lock, but snapshot ")
    assert found["how"].endswith(" is not locked (init --object-lock)")


def test_a_plain_bucket_is_not_immutable(s3_cli: Any, src: Path) -> None:
    assert immutable(s3_cli(False), src) == {
        "verified": False,
        "how": "the bucket has no Object Lock, so backups can be deleted",
    }


def test_an_append_only_server_is_immutable_and_a_plain_one_is_not(
    rest_server: RestServer,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
    src: Path,
) -> None:
    plain = UrlCli(rest_server.url("plain", rest_server.add_user("plain")), cli_env)
    assert immutable(plain, src) == {
        "verified": False,
        "how": "the server is not append-only (ripcord serve --append-only)",
    }
    with running_rest_server("--append-only") as server:
        locked = UrlCli(server.url("locked", server.add_user("locked")), cli_env)
        assert immutable(locked, src) == {
            "verified": True,
            "how": "the server is append-only and refuses every deletion",
        }
        record = locked.ok("check", "--json").json["record"]  # a record is an append
        assert (server.root / "locked" / "checks" / record).is_file()


def test_a_local_directory_is_not_immutable(
    cli_env: dict[str, str], src: Path, tmp_path: Path
) -> None:
    assert immutable(UrlCli(str(tmp_path / "repo"), cli_env), src) == {
        "verified": False,
        "how": "a directory, where whoever can write backups can delete them",
    }
