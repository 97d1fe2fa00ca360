"""Parity through the CLI: `init --parity`, bit rot and torn writes healed by
`check --read-data --repair` with no replica, damage beyond the budget named,
and prune keeping parity objects in step with their packs."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from ripcord.errors import EXIT_DAMAGED, EXIT_USAGE
from ripcord.repository.parity import Layout
from tests.conftest import Cli
from tests.faults import damage, files_under, stored_names
from tests.trees import restored

PERCENT = 10
KDF = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")


@pytest.fixture
def pcli(tmp_path: Path, cli_env: dict[str, str]) -> Cli:
    """A CLI runner with a repository that keeps 10% parity."""
    c = Cli(tmp_path / "prepo", cli_env)
    c.ok("init", "--parity", f"{PERCENT}%", *KDF)
    return c


Versions = dict[str, dict[Path, bytes]]  # snapshot id -> every file's content at that time


def back_up_twice(cli: Cli, src: Path) -> Versions:
    """Folders of small and large random files, backed up, changed, backed up again."""
    rng = random.Random(5)
    for d in range(3):
        folder = src / f"dir{d}"
        folder.mkdir(parents=True)
        for f in range(5):
            size = rng.choice([200, 5000, 90_000, 400_000])
            (folder / f"f{f}.bin").write_bytes(rng.randbytes(size))
    versions: Versions = {}
    for _ in range(2):
        snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
        versions[snap] = files_under(src)
        (src / "dir0" / "f0.bin").write_bytes(rng.randbytes(70_000))
        (src / "dir2" / "new.txt").write_text("new\n")
    return versions


@pytest.fixture
def versions(pcli: Cli, tmp_path: Path) -> Versions:
    return back_up_twice(pcli, tmp_path / "src")


def packs(cli: Cli) -> dict[str, Path]:
    return {p.name: p for p in (cli.repo / "data").rglob("*") if p.is_file()}


def parities(cli: Cli) -> dict[str, Path]:
    folder = cli.repo / "parity"
    return {p.name: p for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def largest_pack(cli: Cli) -> Path:
    return max(packs(cli).values(), key=lambda p: p.stat().st_size)


def layout(pack: Path) -> Layout:
    return Layout.of(pack.stat().st_size, PERCENT)


def flip_data_shares(pack: Path, shares: list[int], seed: int = 0) -> None:
    """One flipped byte at a random place inside each of these data shares."""
    lay, rng = layout(pack), random.Random(seed)
    for i in shares:
        real = min(lay.share, lay.size - i * lay.share)
        damage(pack, "bitflip", at=i * lay.share + rng.randrange(real))


def check(cli: Cli, *args: str) -> tuple[int, Any]:
    r = cli("check", "--json", *args)
    assert "Traceback" not in r.err, r.err
    return r.code, r.json


def named(doc: Any) -> set[str]:
    return {p for e in doc["errors"] for p in e["paths"]}


def assert_every_snapshot_restores(cli: Cli, versions: Versions, src: Path, tmp: Path) -> None:
    for i, (snap, files) in enumerate(versions.items()):
        target = tmp / f"restore{i}"
        cli.ok("restore", snap, "--target", str(target))
        assert files_under(restored(target, src)) == files, f"snapshot {snap[:12]} differs"


def test_every_pack_gets_parity_and_check_is_clean(pcli: Cli, versions: Versions) -> None:
    assert set(parities(pcli)) == set(packs(pcli)) and packs(pcli)
    config = json.loads((pcli.repo / "config").read_text())
    assert config["parity"] == {"percent": PERCENT}
    code, doc = check(pcli, "--read-data")
    assert code == 0 and doc["notes"] == []


def test_flips_within_the_budget_are_healed_and_every_snapshot_restores(
    pcli: Cli, versions: Versions, tmp_path: Path
) -> None:
    pack = largest_pack(pcli)
    lay = layout(pack)
    hit = random.Random(1).sample(range(lay.k), lay.parity)
    flip_data_shares(pack, hit)
    code, doc = check(pcli, "--read-data")
    assert code == EXIT_DAMAGED and named(doc)

    code, doc = check(pcli, "--read-data", "--repair")
    assert code == 0 and doc["ok"] and doc["unhealable"] == []
    [healed] = doc["healed"]
    assert healed["pack"] == pack.name and healed["shares"] == lay.parity and healed["blobs"] > 0
    code, doc = check(pcli, "--read-data")
    assert code == 0  # the damaged pack waits for prune, its blobs stored elsewhere
    assert [n["kind"] for n in doc["notes"]] == ["damaged-condemned-pack"]
    assert_every_snapshot_restores(pcli, versions, tmp_path / "src", tmp_path)

    pcli.ok("prune")
    assert pack.name not in packs(pcli) and pack.name not in parities(pcli)
    code, doc = check(pcli, "--read-data")
    assert code == 0 and doc["notes"] == []  # no index file names the deleted pack
    assert set(parities(pcli)) == set(packs(pcli))  # the new pack has parity too
    assert_every_snapshot_restores(pcli, versions, tmp_path / "src", tmp_path / "after")


def test_a_torn_tail_within_the_budget_is_healed_by_a_subset_read(
    pcli: Cli, versions: Versions, tmp_path: Path
) -> None:
    pack = largest_pack(pcli)
    lay = layout(pack)
    damage(pack, "truncated", at=lay.size - (lay.parity - 1) * lay.share)
    assert check(pcli)[0] == EXIT_DAMAGED  # a cut trailer shows without reading data
    code, doc = check(pcli, "--read-data-subset", "100%", "--repair")
    assert code == 0 and [h["pack"] for h in doc["healed"]] == [pack.name]
    assert check(pcli, "--read-data")[0] == 0
    assert_every_snapshot_restores(pcli, versions, tmp_path / "src", tmp_path)


def test_a_flip_in_the_parity_object_costs_only_its_share(
    pcli: Cli, versions: Versions, tmp_path: Path
) -> None:
    pack = largest_pack(pcli)
    lay = layout(pack)
    parity = parities(pcli)[pack.name]
    header = (parity.stat().st_size - lay.parity * lay.share) // 2
    damage(parity, "bitflip", at=header // 2)  # the front copy of the header
    damage(parity, "bitflip", at=header + lay.share // 2)  # the first parity share
    flip_data_shares(pack, list(range(lay.parity - 1)))
    code, doc = check(pcli, "--read-data", "--repair")
    assert code == 0 and doc["healed"][0]["shares"] == lay.parity
    assert_every_snapshot_restores(pcli, versions, tmp_path / "src", tmp_path)


def test_damage_beyond_the_budget_is_unhealable_and_names_the_files(
    pcli: Cli, versions: Versions
) -> None:
    pack = largest_pack(pcli)
    lay = layout(pack)
    flip_data_shares(pack, random.Random(2).sample(range(lay.k), lay.parity + 1))
    before = set(packs(pcli))
    code, doc = check(pcli, "--read-data", "--repair")
    assert code == EXIT_DAMAGED and doc["healed"] == [] and named(doc)
    [unhealable] = doc["unhealable"]
    assert unhealable["pack"] == pack.name
    assert f"{lay.parity + 1} of its {lay.m} shares are damaged" in unhealable["reason"]
    assert set(packs(pcli)) == before and stored_names(pcli, "pending") == set()
    r = pcli("check", "--read-data", "--repair")
    assert r.code == EXIT_DAMAGED and f"not healed data/{pack.name[:2]}/{pack.name}" in r.out


def test_a_lost_pack_is_named_but_parity_cannot_rebuild_it(pcli: Cli, versions: Versions) -> None:
    pack = largest_pack(pcli)
    damage(pack, "missing")
    code, doc = check(pcli, "--read-data", "--repair")
    assert code == EXIT_DAMAGED and named(doc)
    [unhealable] = doc["unhealable"]
    assert unhealable["pack"] == pack.name and "is gone" in unhealable["reason"]


def test_a_pack_without_parity_is_a_note_and_cannot_be_healed(
    pcli: Cli, versions: Versions
) -> None:
    pack = largest_pack(pcli)
    parity = parities(pcli)[pack.name]
    parity.chmod(0o644)
    parity.unlink()
    code, doc = check(pcli)
    assert code == 0 and [n["kind"] for n in doc["notes"]] == ["parity-missing"]
    flip_data_shares(pack, [0])
    code, doc = check(pcli, "--read-data", "--repair")
    assert code == EXIT_DAMAGED
    assert [u["pack"] for u in doc["unhealable"]] == [pack.name]
    assert "has no parity object" in doc["unhealable"][0]["reason"]


def test_without_parity_there_is_nothing_to_heal_from(cli: Cli, tmp_path: Path) -> None:
    back_up_twice(cli, tmp_path / "src")
    assert parities(cli) == {}
    code, doc = check(cli, "--read-data", "--repair")
    assert code == 0 and doc["healed"] == doc["unhealable"] == []
    assert "nothing to heal from" in cli.ok("check", "--read-data", "--repair").out
    damage(largest_pack(cli), "bitflip")
    code, doc = check(cli, "--read-data", "--repair")
    assert code == EXIT_DAMAGED and named(doc)
    [unhealable] = doc["unhealable"]
    assert "nothing to heal from" in unhealable["reason"]
    assert "ripcord repair --from REPLICA" in unhealable["reason"]


def test_repair_needs_data_read_back(pcli: Cli) -> None:
    r = pcli("check", "--repair")
    assert r.code == EXIT_USAGE and "--read-data" in r.err


def test_prune_deletes_parity_with_its_pack_and_leftover_parity(
    pcli: Cli, versions: Versions
) -> None:
    first = next(iter(versions))
    some = next(iter(parities(pcli).values()))
    stray = pcli.repo / "parity" / "ab" / ("ab" + "0" * 62)  # a pack gone behind ripcord's back
    stray.parent.mkdir(exist_ok=True)
    shutil.copy(some, stray)
    pcli.ok("forget", first)
    assert pcli.ok("prune", "--max-unused", "0", "--json").json["packs_deleted"] > 0
    assert set(parities(pcli)) == set(packs(pcli))  # deleted with the packs, or written anew
    assert not stray.exists()
    assert check(pcli, "--read-data")[0] == 0


@pytest.mark.parametrize("given,percent", [("5%", 5), ("100", 100), ("0%", 0)])
def test_init_parity_takes_whole_percents(
    tmp_path: Path, cli_env: dict[str, str], given: str, percent: int
) -> None:
    c = Cli(tmp_path / "r", cli_env)
    assert c.ok("init", "--parity", given, "--json", *KDF).json["parity"] == percent
    config = json.loads((c.repo / "config").read_text())
    assert config.get("parity", {"percent": 0}) == {"percent": percent}


@pytest.mark.parametrize("given", ["101%", "-1", "5.5%", "five", "%", "٥"])
def test_init_refuses_a_parity_that_is_not_a_whole_percent(
    tmp_path: Path, cli_env: dict[str, str], given: str
) -> None:
    c = Cli(tmp_path / "r", cli_env)
    r = c("init", "--parity", given, *KDF)
    assert r.code == EXIT_USAGE and "--parity" in r.err
    assert not (c.repo / "config").exists()
