"""The CLI over s3:// against a real SeaweedFS server (auth on).

The Store contract itself runs against S3 in tests/contract/.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from ripcord.storage import ObjectExists
from ripcord.storage.s3 import S3Store
from tests.conftest import UrlCli
from tests.s3server import REGION, S3Server, s3_server  # noqa: F401 (the fixture)
from tests.trees import assert_round_trip


def test_init_backup_restore_and_check_over_s3(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    tmp_path: Path,
    cli_env: dict[str, str],
    src: Path,
) -> None:
    bucket = s3_server.new_bucket()
    cli = UrlCli(s3_server.url(bucket), {**cli_env, **s3_server.env()})
    cli.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    client = s3_server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]  # type: ignore[attr-defined]
    assert "office/laptop/config" in keys
    assert all(k.startswith("office/laptop/") for k in keys)
    assert_round_trip(cli, src, tmp_path / "out")
    cli.ok("check", "--read-data")
    assert cli("init").code == 1  # a repository is already there


def test_wrong_credentials_are_refused_clearly(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    bad = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    refused = UrlCli(s3_server.url(s3_server.new_bucket()), {**cli_env, **bad})("snapshots")
    assert refused.code == 1
    assert "access denied" in refused.err
    assert "credentials" in refused.err


def test_a_missing_bucket_is_no_repository(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    refused = UrlCli(s3_server.url("no-such-bucket"), {**cli_env, **s3_server.env()})("snapshots")
    assert refused.code == 10
    assert "no-such-bucket" in refused.err


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "s3://bucket/p?endpint=http://x"], ids=str
)
def test_an_invalid_s3_location_is_a_usage_error(cli_env: dict[str, str], url: str) -> None:
    refused = UrlCli(url, cli_env)("snapshots")
    assert refused.code == 2
    assert "invalid S3 location" in refused.err


def test_large_objects_go_up_in_parts_and_stay_write_once(
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    """Parts are uploaded, the conditional complete refuses a second writer, and the
    refused upload is aborted rather than left to cost storage."""
    bucket = s3_server.new_bucket()
    store = S3Store(bucket, "r", endpoint=s3_server.endpoint, region=REGION, part_size=5 << 20)
    client: Any = s3_server.client()
    try:
        data = random.Random(5).randbytes(11 << 20)
        store.put("data/00/big", data)
        assert client.head_object(Bucket=bucket, Key="r/data/00/big")["ETag"].endswith('-3"')
        with pytest.raises(ObjectExists):
            store.put("data/00/big", bytes(len(data)))
        assert store.get("data/00/big") == data
        assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    finally:
        store.close()
        client.close()
