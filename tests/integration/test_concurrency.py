"""Concurrent writers: two and four backups from separate processes (the installed
binary) into one repository, local and S3, while a prune deletes a forgotten
snapshot's data. Every backup lands, shared data is stored once, each snapshot
restores byte for byte and `check --read-data` is clean."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, Cli, UrlCli
from tests.faults import installed_ripcord
from tests.integration.test_roundtrip import same_tree
from tests.s3server import shared_server

SHARED = 6 << 20  # bytes every source holds (random: it neither compresses nor dedups itself)
OWN = 1 << 20  # bytes only one source holds


def spawn(cli: Cli, location: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [installed_ripcord(), "-r", location, *args],
        env={**os.environ, **cli.env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def race(cli: Cli, location: str, writers: int, tmp: Path) -> None:
    rng = random.Random(writers)
    shared = rng.randbytes(SHARED)
    sources = []
    for i in range(writers):
        s = tmp / f"host{i}"
        s.mkdir()
        (s / "shared.bin").write_bytes(shared)
        (s / "own.bin").write_bytes(rng.randbytes(OWN))
        sources.append(s)
    junk = tmp / "junk"
    junk.mkdir()
    (junk / "junk.bin").write_bytes(rng.randbytes(OWN))
    old = cli.ok("backup", str(junk), "--json").json["snapshot_id"]
    cli.ok("forget", old)  # the prune below deletes its data while the backups run

    procs = [spawn(cli, location, "backup", str(s), "--json") for s in sources]
    procs.append(spawn(cli, location, "prune", "--json", "--max-unused", "0%"))
    done = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _, _ in done), [err for _, _, err in done]

    snaps = {s["id"] for s in cli.ok("snapshots", "--json").json}
    ids = [json.loads(out)["snapshot_id"] for _, out, _ in done[:writers]]
    assert snaps == set(ids)  # every backup landed; the forgotten one stayed gone
    cli.ok("prune", "--max-unused", "0%")  # what the racing prune left for later
    cli.ok("check", "--read-data")
    stats = cli.ok("stats", "--json").json
    # deduplication held across the processes: the shared data is stored about once
    assert stats["data_stored_bytes"] < SHARED + writers * OWN + SHARED // 2, stats
    for snap, source in zip(ids, sources, strict=True):
        target = tmp / f"back-{source.name}"
        cli.ok("restore", snap, "--target", str(target), "--verify")
        assert same_tree(source, target / source.relative_to("/"))


@pytest.mark.parametrize("writers", [2, 4])
def test_backups_from_several_processes_with_a_prune_local(
    cli: Cli, tmp_path: Path, writers: int
) -> None:
    race(cli, str(cli.repo), writers, tmp_path)


@pytest.mark.parametrize("writers", [2, 4])
def test_backups_from_several_processes_with_a_prune_s3(
    cli_env: dict[str, str], tmp_path: Path, writers: int
) -> None:
    server = shared_server()
    url = server.url(server.new_bucket(), "shared")
    s3 = UrlCli(url, {**cli_env, **server.env(), "RIPCORD_PASSWORD": PASSWORD})
    s3.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    race(s3, url, writers, tmp_path)
