"""Bad input gets a clear error and loses nothing.

Each test provokes one real fault through the CLI (or the installed binary)
and checks three things: the exit code, a message on stderr that names the
object or path at fault, and no traceback. Where data is involved it also
checks that nothing wrong was written and nothing restorable was lost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ripcord.errors import EXIT_LOCKED, EXIT_NO_REPOSITORY, EXIT_PARTIAL, EXIT_WRONG_PASSWORD
from ripcord.repository.locks import Lock
from ripcord.storage import LocalStore
from tests.conftest import Cli
from tests.faults import (
    DAMAGES,
    WITHOUT_DAC_OVERRIDE,
    ConcurrentWriter,
    Damage,
    api_repo,
    assert_clean_failure,
    assert_no_wrong_data,
    binary_argv,
    binary_env,
    damage,
    files_under,
    frame_middle,
    hostile_snapshot,
    listing,
    node_at,
    pack_names,
    pack_path,
    raw_dir,
    raw_file,
    raw_node,
    run_binary,
    small_tmpfs,
)
from tests.integration.test_roundtrip import same_tree

# -- opening a repository ---------------------------------------------------------------


def test_wrong_password_exits_12(cli: Cli) -> None:
    r = cli("snapshots", env={"RIPCORD_PASSWORD": "not the password"})
    assert_clean_failure(r, "wrong password", code=EXIT_WRONG_PASSWORD)


def test_no_repository_at_a_missing_path_exits_10(cli: Cli, tmp_path: Path) -> None:
    where = tmp_path / "nowhere"
    r = cli("-r", str(where), "snapshots", repo=False)
    assert_clean_failure(r, str(where), code=EXIT_NO_REPOSITORY)


def test_no_repository_in_an_empty_directory_exits_10(cli: Cli, tmp_path: Path) -> None:
    where = tmp_path / "empty"
    where.mkdir()
    r = cli("-r", str(where), "snapshots", repo=False)
    assert_clean_failure(r, str(where), code=EXIT_NO_REPOSITORY)


def test_no_password_and_no_terminal_is_a_usage_error(cli: Cli) -> None:
    r = run_binary(cli, "snapshots", without=("RIPCORD_PASSWORD",))
    assert_clean_failure(r, "no password", "RIPCORD_PASSWORD", code=2)


def test_newer_repository_format_is_refused_before_any_password(cli: Cli) -> None:
    config = cli.repo / "config"
    doc = json.loads(config.read_text())
    doc["version"] = 2
    config.chmod(0o644)
    config.write_text(json.dumps(doc))
    assert_clean_failure(cli("snapshots"), "version 2", code=1)
    r = run_binary(cli, "snapshots", without=("RIPCORD_PASSWORD",))
    assert_clean_failure(r, "version 2", code=1)


# -- damaged repository objects ---------------------------------------------------------

BIN = Path("docs/deep/er/bin.dat")  # in the `src` fixture: 600 kB of random bytes


def restore_fails_cleanly(cli: Cli, snap: str, out: Path, src: Path, *names: str) -> None:
    """Restore exits non-zero naming the damage, and whatever it left behind is right."""
    assert_clean_failure(cli("restore", snap, "--target", str(out)), *names)
    assert_no_wrong_data(out / src.relative_to("/"), src)


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_data_pack_is_named_and_never_restored_wrong(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        loc = repo.locate(node_at(repo, snap, src / BIN).content[0])
    damage(pack_path(cli, loc), how, at=frame_middle(loc))
    out = tmp_path / "out"
    restore_fails_cleanly(cli, snap, out, src, loc.pack)
    assert not (out / src.relative_to("/") / BIN).exists()
    assert cli.ok("ls", snap, "--json").json["nodes"]  # trees live in other packs


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_tree_is_named_by_ls_restore_and_cat(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        root = repo.load_snapshot(snap).tree
        loc = repo.locate(bytes.fromhex(root))
    damage(pack_path(cli, loc), how, at=frame_middle(loc))
    assert_clean_failure(cli("ls", snap), loc.pack)
    assert_clean_failure(cli("cat", "tree", root), loc.pack)
    restore_fails_cleanly(cli, snap, tmp_path / "out", src, loc.pack)


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_snapshot_is_named_by_ls_restore_and_cat(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    cli.ok("backup", str(src), "--tag", "older")
    (src / "a.txt").write_text("newer\n")
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    damage(cli.repo / "snapshots" / snap, how)
    assert_clean_failure(cli("ls", snap), snap)
    assert_clean_failure(cli("cat", "snapshot", snap), snap)
    restore_fails_cleanly(cli, snap, tmp_path / "out", src, snap)


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_index_is_named_when_the_index_is_read(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        root = repo.load_snapshot(snap).tree
    (index,) = (cli.repo / "index").iterdir()
    damage(index, how)
    # a machine with no cached copy of the index has to read the damaged file; with the
    # file gone, the blobs it listed cannot be found: the first one asked for is named
    fresh = {"RIPCORD_CACHE_DIR": str(tmp_path / "fresh-cache")}
    named = root if how == "missing" else index.name
    r = cli("restore", snap, "--target", str(tmp_path / "out"), env=fresh)
    assert_clean_failure(r, named)
    assert files_under(tmp_path / "out") == {} if (tmp_path / "out").exists() else True
    assert_clean_failure(cli("cat", "index", index.name), index.name)


@pytest.mark.parametrize("how", DAMAGES)
def test_older_snapshot_restores_when_a_newer_snapshots_own_pack_is_damaged(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    older = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    kept = tmp_path / "kept"
    shutil.copytree(src, kept)  # the older state, to compare with
    (src / "new.dat").write_bytes(os.urandom(300_000))  # only the newer snapshot has it
    newer = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        loc = repo.locate(node_at(repo, newer, src / "new.dat").content[0])
        older_packs = {
            repo.locate(b).pack
            for n in ("a.txt", "docs/report.txt", str(BIN))
            for b in node_at(repo, older, src / n).content
        }
    assert loc.pack not in older_packs
    damage(pack_path(cli, loc), how, at=frame_middle(loc))
    assert_clean_failure(cli("restore", newer, "--target", str(tmp_path / "new")), loc.pack)
    cli.ok("restore", older, "--target", str(tmp_path / "old"), "--verify")
    assert same_tree(kept, tmp_path / "old" / src.relative_to("/"))
