"""A hostile S3 repository's oversized objects are refused having read at most one byte
past their limit, over a real SeaweedFS (the ranged get of the S3 store is the bound).

tests/unit/test_bounded_reads.py covers every kind on a MemoryStore; this proves the
same against real storage, for a listed kind (snapshots) and one read by name (config).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ripcord.errors import CorruptObject
from ripcord.repository import Repository
from ripcord.repository.config import MAX_CONFIG
from ripcord.repository.repository import read_config
from ripcord.repository.snapshots import MAX_SNAPSHOT
from ripcord.storage.s3 import S3Store
from tests.conftest import FAST_KDF, PASSWORD, UrlCli
from tests.counting import Counting
from tests.s3server import REGION, S3Server, new_s3_store, s3_server  # noqa: F401 (the fixture)

HOSTILE = f"snapshots/{'f' * 64}"


@pytest.mark.parametrize("listing", ["honest", "lying"])
def test_an_oversized_snapshot_on_s3_is_left_out_having_read_at_most_its_limit(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    listing: str,
) -> None:
    store = Counting(new_s3_store(), listed_size=1 if listing == "lying" else None)
    repo = Repository.init(store, PASSWORD.encode(), FAST_KDF)
    try:
        store.put(HOSTILE, bytes(MAX_SNAPSHOT + (1 << 20)))
        assert repo.snapshots() == []
        reason = "too large" if listing == "honest" else "content does not match"  # cut off
        assert any(e.startswith(f"{HOSTILE}: {reason}") for e in repo.left_out), repo.left_out
    finally:
        repo.close()
    assert store.read[HOSTILE] == (0 if listing == "honest" else 1)  # what the listing says


def test_an_oversized_config_on_s3_is_refused_having_read_one_byte_past_its_limit(
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    store = Counting(new_s3_store())
    store.put("config", bytes(MAX_CONFIG + (1 << 20)))
    with pytest.raises(CorruptObject, match="config: too large"):
        read_config(store)
    assert store.read["config"] == MAX_CONFIG + 1


def test_the_cli_names_an_oversized_snapshot_and_lists_the_others(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
    src: Path,
) -> None:
    bucket = s3_server.new_bucket()
    cli = UrlCli(s3_server.url(bucket, "repo"), {**cli_env, **s3_server.env()})
    cli.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    cli.ok("backup", str(src))
    S3Store(bucket, "repo", endpoint=s3_server.endpoint, region=REGION).put(
        HOSTILE, bytes(MAX_SNAPSHOT + 1)
    )
    listed = cli("snapshots", "--json")
    assert listed.code == 0, listed.err
    assert len(listed.json) == 1
    assert f"{HOSTILE}: too large" in listed.err
    assert "Traceback" not in listed.err
