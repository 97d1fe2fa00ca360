"""`init --object-lock` against a real SeaweedFS bucket with Object Lock (auth on).

What is checked is what S3 itself reports: each object's retain-until date,
and that a locked version cannot be deleted through boto3.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ripcord.storage.s3 import S3Store
from tests.conftest import Cli, UrlCli
from tests.s3server import REGION, S3Server, s3_server  # noqa: F401 (the fixture)

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
DAY = timedelta(days=1)
_UNLOCKED = {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}


def _locked_bucket(server: S3Server) -> str:
    """A fresh bucket created with Object Lock (and so versioning), no default retention."""
    name = f"lock-{uuid.uuid4().hex[:12]}"
    client: Any = server.client()
    try:
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    finally:
        client.close()
    return name


def _retention(client: Any, bucket: str, key: str, version: str) -> dict[str, Any] | None:
    try:
        r = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)
    except ClientError as e:
        # AWS says NoSuchObjectLockConfiguration; SeaweedFS the bucket-level code
        if e.response["Error"]["Code"] in _UNLOCKED:
            return None
        raise
    found: dict[str, Any] = r["Retention"]
    return found


def _assert_locked_for_a_day(retention: dict[str, Any] | None, mode: str) -> None:
    assert retention is not None
    assert retention["Mode"] == mode
    ahead = retention["RetainUntilDate"] - datetime.now(UTC)
    assert DAY - timedelta(minutes=5) < ahead <= DAY


def test_every_object_but_locks_is_written_locked(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
    src: Path,
) -> None:
    bucket = _locked_bucket(s3_server)
    cli = UrlCli(s3_server.url(bucket), {**cli_env, **s3_server.env()})
    created = cli.ok("init", "--object-lock", "compliance", "--retention", "1d", *FAST, "--json")
    assert created.json["object_lock"] == {"mode": "compliance", "retention_seconds": 86400}
    cli.ok("backup", str(src))  # a later process: the lock comes from the config
    client: Any = s3_server.client()
    try:
        versions = client.list_object_versions(Bucket=bucket)["Versions"]
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for v in versions:
            kind = v["Key"].removeprefix("office/laptop/").split("/")[0]
            by_kind.setdefault(kind, []).append(v)
        assert {"config", "keys", "data", "index", "snapshots"} <= set(by_kind)
        # a released lock leaves no version behind (test_immutability.py: written unlocked)
        assert "locks" not in by_kind
        for found in by_kind.values():
            for v in found:
                _assert_locked_for_a_day(
                    _retention(client, bucket, v["Key"], v["VersionId"]), "COMPLIANCE"
                )
        config = json.loads(
            client.get_object(Bucket=bucket, Key="office/laptop/config")["Body"].read()
        )
        assert config["object_lock"] == {"mode": "compliance", "retention_seconds": 86400}
        pack = by_kind["data"][0]
        with pytest.raises(ClientError) as refused:
            client.delete_object(Bucket=bucket, Key=pack["Key"], VersionId=pack["VersionId"])
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert client.head_object(Bucket=bucket, Key=pack["Key"], VersionId=pack["VersionId"])
    finally:
        client.close()
    cli.ok("check", "--read-data")


def test_large_objects_go_up_locked_in_parts(
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    bucket = _locked_bucket(s3_server)
    store = S3Store(bucket, "r", endpoint=s3_server.endpoint, region=REGION, part_size=5 << 20)
    store.retain_new_objects("governance", DAY)
    client: Any = s3_server.client()
    try:
        store.put("data/00/big", random.Random(7).randbytes(6 << 20))
        head = client.head_object(Bucket=bucket, Key="r/data/00/big")
        assert head["ETag"].endswith('-2"')
        _assert_locked_for_a_day(
            _retention(client, bucket, "r/data/00/big", head["VersionId"]), "GOVERNANCE"
        )
    finally:
        store.close()
        client.close()


def test_a_bucket_without_object_lock_is_refused_with_how_to_get_one(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    bucket = s3_server.new_bucket()
    cli = UrlCli(s3_server.url(bucket), {**cli_env, **s3_server.env()})
    refused = cli("init", "--object-lock", "compliance", "--retention", "30d", *FAST)
    assert refused.code == 1
    assert f"bucket '{bucket}' does not have Object Lock enabled" in refused.err
    assert "aws s3api create-bucket --bucket NAME --object-lock-enabled-for-bucket" in refused.err
    client: Any = s3_server.client()
    try:
        assert not client.list_objects_v2(Bucket=bucket).get("Contents")  # nothing written
    finally:
        client.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--object-lock", "governance", "--retention", "1d"), "needs an s3:// repository"),
        (("--object-lock", "compliance"), "go together"),
        (("--retention", "1d"), "go together"),
        (("--object-lock", "compliance", "--retention", "6m"), "not a duration"),
        (("--object-lock", "legal-hold", "--retention", "1d"), "legal-hold"),
    ],
    ids=str,
)
def test_object_lock_options_are_checked_before_anything_is_written(
    tmp_path: Path, cli_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    cli = Cli(tmp_path / "repo", cli_env)
    refused = cli("init", *args, *FAST)
    assert refused.code == 2
    assert message in refused.err
    assert not (tmp_path / "repo" / "config").exists()


def test_a_bucket_with_a_default_retention_rule_is_refused(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    """A default rule would lock lock objects too, which their holders must delete."""
    bucket = _locked_bucket(s3_server)
    client: Any = s3_server.client()
    try:
        client.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
            },
        )
    finally:
        client.close()
    cli = UrlCli(s3_server.url(bucket), {**cli_env, **s3_server.env()})
    refused = cli("init", "--object-lock", "compliance", "--retention", "1d", *FAST)
    assert refused.code == 1
    assert "has a default retention rule" in refused.err
