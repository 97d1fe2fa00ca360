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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ripcord.errors import (
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_NO_REPOSITORY,
    EXIT_PARTIAL,
    EXIT_WRONG_PASSWORD,
)
from ripcord.repository.locks import Lock
from tests.conftest import PASSWORD, Cli, Result
from tests.faults import (
    DAMAGES,
    WITHOUT_DAC_OVERRIDE,
    ConcurrentWriter,
    Damage,
    api_repo,
    assert_clean_failure,
    assert_no_wrong_data,
    backup_until_packs_exist,
    binary_argv,
    binary_env,
    damage,
    files_under,
    frame_middle,
    hostile_snapshot,
    listing,
    node_at,
    pack_path,
    plant_lock,
    random_files,
    raw_dir,
    raw_file,
    raw_node,
    reached_by,
    read_only_view,
    restore_until_files_exist,
    run_binary,
    small_tmpfs,
)
from tests.integration.test_roundtrip import same_tree

# -- opening a repository ---------------------------------------------------------------


def test_wrong_password_exits_12(cli: Cli) -> None:
    r = cli("snapshots", "--json", env={"RIPCORD_PASSWORD": "not the password"})
    assert_clean_failure(r, "wrong password", code=EXIT_WRONG_PASSWORD)
    assert r.json["exit_code"] == EXIT_WRONG_PASSWORD  # scripts get the reason as JSON too
    assert "wrong password" in r.json["error"]


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


@pytest.mark.parametrize("how", ["truncated", "bitflip"])
def test_damaged_key_slot_locks_out_no_other(cli: Cli, how: Damage) -> None:
    second = "second password"
    kdf = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
    added = cli.ok("key", "add", *kdf, "--json", env={"RIPCORD_NEW_PASSWORD": second})
    damaged, intact = sorted((cli.repo / "keys").iterdir())  # tried in this order
    passwords = {
        p.name: second if p.name == added.json["added"] else PASSWORD for p in (damaged, intact)
    }
    damage(damaged, how, at=2)  # in the JSON syntax: the file cannot be parsed
    cli.ok("snapshots", env={"RIPCORD_PASSWORD": passwords[intact.name]})
    intact.chmod(0o644)
    intact.unlink()  # with only the damaged slot left, say so rather than "wrong password"
    r = cli("snapshots", env={"RIPCORD_PASSWORD": passwords[damaged.name]})
    assert_clean_failure(r, f"keys/{damaged.name}", code=1)


def test_init_again_after_a_crash_before_the_config_opens_whichever_key_comes_first(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    """init writes its key slot, then the config; a crash in between leaves a stray slot of
    other secrets, which the same password opens too. Key files are tried in name order."""
    kdf = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
    for attempt in range(40):  # until the stray slot sorts first (each time one chance in 2)
        again = Cli(tmp_path / f"repo-{attempt}", cli.env)
        again.ok("init", *kdf)
        (again.repo / "config").unlink()  # the crash: as if it had never been written
        key = again.ok("init", *kdf, "--json").json["key"]
        if min(p.name for p in (again.repo / "keys").iterdir()) != key:
            break
    assert min(p.name for p in (again.repo / "keys").iterdir()) != key
    snap = again.ok("backup", str(src), "--json").json["snapshot_id"]
    again.ok("restore", snap, "--target", str(tmp_path / "out"), "--verify")
    assert same_tree(src, tmp_path / "out" / src.relative_to("/"))


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_config_is_named(cli: Cli, how: Damage) -> None:
    damage(cli.repo / "config", how)
    r = cli("snapshots")
    if how == "missing":
        assert_clean_failure(r, f"no repository at {cli.repo}", code=EXIT_NO_REPOSITORY)
    else:
        assert_clean_failure(r, "config", code=1)


@pytest.mark.parametrize(("how", "at"), [("truncated", None), ("bitflip", 16)])  # 16: page size
def test_damaged_local_index_cache_is_rebuilt(
    cli: Cli, src: Path, tmp_path: Path, how: Damage, at: int | None
) -> None:
    """A crash or a full disk can leave the SQLite cache broken: it is only a cache."""
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    (cache,) = Path(cli.env["RIPCORD_CACHE_DIR"]).glob("*/index.sqlite")
    damage(cache, how, at=at)
    out = tmp_path / "out"
    cli.ok("restore", snap, "--target", str(out), "--verify")
    assert same_tree(src, out / src.relative_to("/"))
    assert cli.ok("backup", str(src), "--json").json["files_unchanged"] == 4


def test_read_only_cache_directory_costs_only_speed(cli: Cli, src: Path, tmp_path: Path) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    (tmp_path / "empty").mkdir()
    with read_only_view(tmp_path / "empty", tmp_path / "ro-cache") as ro_cache:
        no_cache = {"RIPCORD_CACHE_DIR": str(ro_cache)}  # a read-only home, a rescue system
        cli.ok("restore", snap, "--target", str(tmp_path / "out"), "--verify", env=no_cache)
        assert same_tree(src, tmp_path / "out" / src.relative_to("/"))
        assert cli.ok("backup", str(src), "--json", env=no_cache).json["files_unchanged"] == 4


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
def test_damaged_data_pack_costs_only_the_files_it_holds(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        loc = repo.locate(node_at(repo, snap, src / BIN).content[0])
        at = frame_middle(loc)
        lost = reached_by(repo, snap, src, how, loc, at)
    assert BIN in lost
    damage(pack_path(cli, loc), how, at=at)
    out = tmp_path / "out"
    r = cli("restore", snap, "--target", str(out))
    assert_clean_failure(r, loc.pack, *(str(src / p) for p in lost), code=EXIT_PARTIAL)
    restored = out / src.relative_to("/")
    assert set(files_under(restored)) == set(files_under(src)) - lost
    assert_no_wrong_data(restored, src)
    assert (restored / "empty").is_dir()
    assert cli.ok("ls", snap, "--json").json["nodes"]  # trees live in other packs


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pick=st.data())
def test_any_damage_to_any_object_is_harmless_or_reported(
    cli: Cli, src: Path, tmp_path_factory: pytest.TempPathFactory, pick: st.DataObject
) -> None:
    """Whichever object is lost, cut short or has a bit flipped, wherever, restore gives
    back the right files or says what is wrong; it never writes wrong data or crashes."""
    if not (cli.repo / "snapshots").exists():
        cli.ok("backup", str(src))
    here = tmp_path_factory.mktemp("flip")
    copy = here / "repo"
    shutil.copytree(cli.repo, copy)
    objects = sorted(p for p in copy.rglob("*") if p.is_file() and ".tmp" not in p.parts)
    victim = pick.draw(st.sampled_from(objects), label="object")
    how = pick.draw(st.sampled_from(DAMAGES), label="damage")
    at = pick.draw(st.integers(0, victim.stat().st_size - 1), label="where")
    damage(victim, how, at=at)
    flipped = Cli(copy, {**cli.env, "RIPCORD_CACHE_DIR": str(here / "cache")})
    out = here / "out"
    r = flipped("restore", "latest", "--target", str(out), "--verify")
    event(f"{victim.relative_to(copy).parts[0]} {how}: exit {r.code}")
    if r.code == 0:
        assert same_tree(src, out / src.relative_to("/"))
    else:
        assert_clean_failure(r)
        assert_no_wrong_data(out / src.relative_to("/"), src)


def test_hard_link_to_a_file_damaged_at_its_end_is_not_left_half_written(
    cli: Cli, tmp_path: Path
) -> None:
    data = random_files(tmp_path / "data", 1, 32 << 20)  # many chunks: slow to write
    first = data / "000.bin"
    os.link(first, data / "001-link.bin")  # restored right after it, as a link
    snap = cli.ok("backup", str(data), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        loc = repo.locate(node_at(repo, snap, first).content[-1])  # only the last chunk
    damage(pack_path(cli, loc), "bitflip", at=frame_middle(loc))
    out = tmp_path / "out"
    r = cli("restore", snap, "--target", str(out))
    assert_clean_failure(r, loc.pack, str(first), str(data / "001-link.bin"), code=EXIT_PARTIAL)
    assert files_under(out / data.relative_to("/")) == {}  # neither name half-written


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
def test_damaged_snapshot_is_named_and_hides_no_other(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    older = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    kept = tmp_path / "kept"
    shutil.copytree(src, kept)
    (src / "a.txt").write_text("newer\n")
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    damage(cli.repo / "snapshots" / snap, how)
    assert_clean_failure(cli("ls", snap), snap)
    assert_clean_failure(cli("cat", "snapshot", snap), snap)
    restore_fails_cleanly(cli, snap, tmp_path / "out", src, snap)
    listed = cli.ok("snapshots", "--json")
    assert [s["id"] for s in listed.json] == [older]
    if how != "missing":
        assert f"snapshots/{snap}" in listed.err
    cli.ok("restore", older, "--target", str(tmp_path / "old"), "--verify")
    assert same_tree(kept, tmp_path / "old" / src.relative_to("/"))
    assert cli.ok("backup", str(src), "--json").json["snapshot_id"]


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_index_is_named_and_costs_only_what_it_lists(
    cli: Cli, src: Path, tmp_path: Path, how: Damage
) -> None:
    older = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    kept = tmp_path / "kept"
    shutil.copytree(src, kept)
    first_index = set((cli.repo / "index").iterdir())
    (src / "a.txt").write_text("newer\n")
    newer = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    (index,) = set((cli.repo / "index").iterdir()) - first_index  # lists the newer root tree
    with api_repo(cli) as repo:
        root = repo.load_snapshot(newer).tree
    damage(index, how)
    # a machine with no cached copy of the index has to read the damaged file; with the
    # file gone, what it listed cannot be found and the first blob asked for is named
    fresh = {"RIPCORD_CACHE_DIR": str(tmp_path / "fresh-cache")}
    named = (root,) if how == "missing" else (root, f"index/{index.name}")
    r = cli("restore", newer, "--target", str(tmp_path / "new"), env=fresh)
    assert_clean_failure(r, *named)
    assert files_under(tmp_path / "new") == {}
    if how != "missing":
        assert_clean_failure(cli("cat", "index", index.name), f"index/{index.name}")
    cli.ok("restore", older, "--target", str(tmp_path / "old"), "--verify", env=fresh)
    assert same_tree(kept, tmp_path / "old" / src.relative_to("/"))


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


# -- hostile repository content ---------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory restore must never touch, with a file in it to overwrite."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim").write_text("untouched\n")
    return d


@pytest.mark.parametrize("name", [b"..", b"a/b", b"/etc", b".", b"", "..", b"x\0y"])
def test_tree_with_an_unsafe_name_is_refused(
    cli: Cli, tmp_path: Path, outside: Path, name: object
) -> None:
    before = listing(outside)
    with api_repo(cli) as repo:
        evil = raw_file(repo, name, b"pwned\n")
        snap = hostile_snapshot(repo, [raw_dir(repo, b"top", [evil])])
    target = tmp_path / "target"
    for args in (("restore", snap, "--target", str(target)), ("ls", snap)):
        assert_clean_failure(cli(*args), "unsafe name")
    assert listing(outside) == before
    assert files_under(target) == {}


def test_symlink_then_directory_of_the_same_name_is_refused(
    cli: Cli, tmp_path: Path, outside: Path
) -> None:
    before = listing(outside)
    with api_repo(cli) as repo:
        link = raw_node(b"link", "symlink", target=str(outside).encode())
        through = raw_dir(repo, b"link", [raw_file(repo, b"victim", b"pwned\n")])
        snap = hostile_snapshot(repo, [link, through])
    target = tmp_path / "target"
    assert_clean_failure(cli("restore", snap, "--target", str(target)), "duplicate names")
    assert listing(outside) == before
    assert not (target / "link").is_symlink()


def test_directory_that_is_a_symlink_in_the_target_is_never_followed(
    cli: Cli, tmp_path: Path, outside: Path
) -> None:
    """The same attack over two snapshots: the first plants the link, the second uses it."""
    before = listing(outside)
    with api_repo(cli) as repo:
        plant = hostile_snapshot(repo, [raw_node(b"d", "symlink", target=str(outside).encode())])
        use = hostile_snapshot(repo, [raw_dir(repo, b"d", [raw_file(repo, b"victim", b"pwned")])])
    target = tmp_path / "target"
    cli.ok("restore", plant, "--target", str(target))
    assert (target / "d").is_symlink()
    assert_clean_failure(cli("restore", use, "--target", str(target)), "refusing", "d")
    assert listing(outside) == before


@pytest.mark.parametrize("only", [None, "docs/deep"])
def test_directory_planted_as_a_symlink_in_the_target_is_never_followed(
    cli: Cli, src: Path, tmp_path: Path, outside: Path, only: str | None
) -> None:
    before = listing(outside)
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    target = tmp_path / "target"
    first = src.relative_to("/").parts[0]  # the top directory of every restored path
    target.mkdir()
    (target / first).symlink_to(outside)
    paths = [str(src / only)] if only else []  # with a PATH, the folders above it are made
    r = cli("restore", snap, *paths, "--target", str(target))
    assert_clean_failure(r, "refusing", first)
    assert listing(outside) == before


def test_file_planted_as_a_symlink_in_the_target_is_replaced_not_followed(
    cli: Cli, tmp_path: Path, outside: Path
) -> None:
    before = listing(outside)
    with api_repo(cli) as repo:
        snap = hostile_snapshot(repo, [raw_file(repo, b"victim", b"restored\n")])
    target = tmp_path / "target"
    target.mkdir()
    (target / "victim").symlink_to(outside / "victim")
    cli.ok("restore", snap, "--target", str(target))
    assert not (target / "victim").is_symlink()
    assert (target / "victim").read_text() == "restored\n"
    assert listing(outside) == before


# -- sources that fight back ------------------------------------------------------------


def test_unreadable_entries_are_listed_and_the_rest_is_saved(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    secret = src / "docs" / "[red]secret.txt"  # rich markup in a name is printed as is
    secret.write_text("for root's eyes only\n")
    private = src / "private"
    private.mkdir()
    (private / "inside.txt").write_text("never reached\n")
    for p in (secret, private):
        p.chmod(0)
    # the installed binary, run as root without the capabilities that let root read anything
    r = run_binary(cli, "backup", str(src), "--json", wrapper=WITHOUT_DAC_OVERRIDE)
    assert_clean_failure(r, str(secret), str(private), "Permission denied", code=EXIT_PARTIAL)
    doc = r.json
    assert sorted(doc["error_list"], key=lambda e: e["path"]) == [
        {"path": str(secret), "error": "Permission denied"},
        {"path": str(private), "error": "Permission denied"},
    ]
    assert doc["files_new"] == 4
    out = tmp_path / "out"
    cli.ok("restore", doc["snapshot_id"], "--target", str(out), "--verify")
    assert list((out / private.relative_to("/")).iterdir()) == []
    secret.unlink()
    shutil.rmtree(private)
    (out / private.relative_to("/")).rmdir()
    assert same_tree(src, out / src.relative_to("/"))


def test_file_changing_while_read_is_flagged_and_read_again_next_time(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    busy = src / "busy.log"
    busy.write_bytes(os.urandom(24 << 20))  # large enough that every read overlaps a write
    with ConcurrentWriter(busy) as writer:
        r = cli("backup", str(src), "--json")
    assert writer.writes > 0
    assert_clean_failure(r, str(busy), "changed while being read", code=EXIT_PARTIAL)
    assert r.json["changed_while_read_list"] == [str(busy)]
    assert r.json["error_list"] == []
    with api_repo(cli) as repo:  # the snapshot says what it holds is not a clean copy
        assert node_at(repo, r.json["snapshot_id"], busy).changed
    again = cli.ok("backup", str(src), "--json").json
    assert again["files_changed"] == 1 and again["changed_while_read_list"] == []
    out = tmp_path / "out"
    cli.ok("restore", again["snapshot_id"], "--target", str(out), "--verify")
    assert same_tree(src, out / src.relative_to("/"))


# -- awkward but valid file systems -----------------------------------------------------


def test_non_utf8_names_long_paths_and_special_files_round_trip(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "odd"
    broot = bytes(root)
    os.makedirs(broot + b"/caf\xe9/\xff\xfe")
    with open(broot + b"/caf\xe9/\xff\xfe/\x80.txt", "wb") as f:
        f.write(b"latin-1 and worse\n")
    deep = broot
    while len(deep) < 3300:  # nested 255-byte names, over 3000 bytes of path
        deep += b"/" + bytes([ord("a") + len(deep) % 26]) * 255
    os.makedirs(deep)
    with open(deep + b"/" + b"z" * 255, "wb") as f:
        f.write(b"at the bottom\n")
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", 0o640 | stat.S_IFCHR, os.makedev(1, 3))
    r = cli.ok("backup", str(root), "--json").json
    assert r["error_list"] == [] and r["files_new"] == 2 and r["others"] == 2
    out = tmp_path / "out"
    cli.ok("restore", "latest", "--target", str(out), "--verify")
    back = bytes(out) + broot
    with open(back + b"/caf\xe9/\xff\xfe/\x80.txt", "rb") as f:
        assert f.read() == b"latin-1 and worse\n"
    with open(back + deep[len(broot) :] + b"/" + b"z" * 255, "rb") as f:
        assert f.read() == b"at the bottom\n"
    assert stat.S_ISFIFO((out / root.relative_to("/") / "fifo").lstat().st_mode)
    dev = (out / root.relative_to("/") / "null").lstat()
    assert stat.S_ISCHR(dev.st_mode) and dev.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(dev.st_mode) == 0o640
    names = {n["path"] for n in cli.ok("ls", "latest", "--json").json["nodes"]}
    assert os.fsdecode(broot + b"/caf\xe9/\xff\xfe/\x80.txt") in names


def test_non_utf8_source_path_is_saved_and_found_again(cli: Cli, tmp_path: Path) -> None:
    source = bytes(tmp_path) + b"/caf\xe9"
    os.mkdir(source)
    with open(source + b"/f", "wb") as f:
        f.write(b"in a Latin-1 folder\n")
    name = os.fsdecode(source)  # as a shell hands it over: surrogate escapes
    first = cli.ok("backup", name, "--json").json
    assert cli.ok("snapshots", "--json").json[0]["paths"] == [name]
    again = cli.ok("backup", name, "--json").json
    assert again["parent"] == first["snapshot_id"] and again["files_unchanged"] == 1
    out = tmp_path / "out"
    cli.ok("restore", "latest", name, "--target", str(out), "--verify")
    with open(bytes(out) + source + b"/f", "rb") as f:
        assert f.read() == b"in a Latin-1 folder\n"


def test_names_that_look_like_markup_are_printed_as_they_are(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "a[" / "b]"  # the path reads "a[/b]": a closing tag to rich
    source.mkdir(parents=True)
    (source / "f").write_text("x\n")
    cli.ok("backup", str(source), "--tag", "[red]t")
    listed = cli.ok("snapshots", env={"COLUMNS": "500"}).out  # wide: no cell is cut
    assert str(source) in listed and "[red]t" in listed
    target = tmp_path / "t[" / "x]"
    assert str(target) in cli.ok("restore", "latest", "--target", str(target)).out
    other = tmp_path / "r[" / "z]"
    assert str(other) in Cli(other, cli.env).ok("init", "--kdf-iterations", "1").out


def test_full_target_disk_stops_restore_without_a_torn_file(cli: Cli, tmp_path: Path) -> None:
    data = random_files(tmp_path / "data", 24, 160 << 10)  # several files in flight at once
    (data / "too-big.bin").write_bytes(os.urandom(3 << 20))  # can never fit
    cli.ok("backup", str(data))
    with small_tmpfs(tmp_path / "small", "2m") as small:
        r = cli("restore", "latest", "--target", str(small))
        assert_clean_failure(r, "disk full", str(data), code=1)
        restored = small / data.relative_to("/")
        assert not (restored / "too-big.bin").exists()
        assert_no_wrong_data(restored, data)  # every file left is whole


def test_no_inode_left_for_the_folders_above_a_restored_path(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    cli.ok("backup", str(src))
    deep = src / "docs" / "deep" / "er"
    with small_tmpfs(tmp_path / "small", "2m,nr_inodes=4") as small:
        r = cli("restore", "latest", str(deep), "--target", str(small))
        assert_clean_failure(r, "disk full", code=1)
        assert not any(p.is_file() for p in small.rglob("*"))


# -- interrupted and concurrent processes -----------------------------------------------


@pytest.mark.slow
def test_backup_killed_midway_loses_nothing_and_blocks_nothing(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    older = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    big = random_files(tmp_path / "big", 25, 8 << 20)  # 200 MiB
    proc = backup_until_packs_exist(cli, big)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert [s["id"] for s in cli.ok("snapshots", "--json").json] == [older]
    with api_repo(cli) as repo:  # the dead process's lock is still there, and ignored
        left = Lock(repo.store, repo.key, exclusive=True)
        assert [o.pid for o in left.others()] == [proc.pid]
        left.acquire()
        left.release()
    cli.ok("restore", older, "--target", str(tmp_path / "old"), "--verify")
    assert same_tree(src, tmp_path / "old" / src.relative_to("/"))
    redo = cli.ok("backup", str(big), "--json").json
    assert redo["files_new"] == 25
    assert list((cli.repo / ".tmp").iterdir()) == []  # the killed writer's temp files are swept
    out = tmp_path / "new"
    verified = cli.ok("restore", redo["snapshot_id"], "--target", str(out), "--verify", "--json")
    assert verified.json["verified"] == 25
    assert same_tree(big, out / big.relative_to("/"))


def test_read_only_repository_still_restores_and_refuses_backups_by_name(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with read_only_view(cli.repo, tmp_path / "media") as media:
        ro = Cli(media, {**cli.env, "RIPCORD_CACHE_DIR": str(tmp_path / "other-cache")})
        assert [s["id"] for s in ro.ok("snapshots", "--json").json] == [snap]
        assert ro.ok("ls", snap, "--json").json["nodes"]
        ro.ok("restore", snap, "--target", str(tmp_path / "out"), "--verify")
        assert same_tree(src, tmp_path / "out" / src.relative_to("/"))
        assert_clean_failure(ro("backup", str(src)), "locks/", "Read-only file system", code=1)


def test_interrupted_backup_exits_130_and_releases_its_lock(cli: Cli, tmp_path: Path) -> None:
    big = random_files(tmp_path / "big", 8, 8 << 20)
    proc = backup_until_packs_exist(cli, big)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    assert_clean_failure(Result(proc.returncode, out, err), "interrupted", code=EXIT_INTERRUPTED)
    assert cli.ok("snapshots", "--json").json == []
    assert list((cli.repo / "locks").iterdir()) == []
    assert list((cli.repo / ".tmp").iterdir()) == []


def test_interrupted_restore_exits_130_and_leaves_no_torn_file(cli: Cli, tmp_path: Path) -> None:
    big = random_files(tmp_path / "big", 8, 8 << 20)
    snap = cli.ok("backup", str(big), "--json").json["snapshot_id"]
    out = tmp_path / "out"
    proc = restore_until_files_exist(cli, snap, out)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    assert_clean_failure(
        Result(proc.returncode, stdout, stderr), "interrupted", code=EXIT_INTERRUPTED
    )
    assert_no_wrong_data(out / big.relative_to("/"), big)  # files begun are finished or gone


def test_full_repository_disk_fails_the_backup_and_keeps_older_snapshots(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path / "small", "4m") as small:
        on_small = Cli(small / "repo", cli.env)
        on_small.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
        first = on_small.ok("backup", str(src), "--json").json["snapshot_id"]
        big = random_files(tmp_path / "big", 1, 6 << 20)
        r = on_small("backup", str(big))
        assert_clean_failure(r, "no space", str(on_small.repo), code=1)
        assert [s["id"] for s in on_small.ok("snapshots", "--json").json] == [first]
        assert list((on_small.repo / "locks").iterdir()) == []
        out = tmp_path / "out"
        on_small.ok("restore", "latest", "--target", str(out), "--verify")
        assert same_tree(src, out / src.relative_to("/"))


def test_exclusive_lock_of_a_live_process_blocks_backup_with_exit_11(cli: Cli, src: Path) -> None:
    with api_repo(cli) as repo:
        lock = Lock(repo.store, repo.key, exclusive=True)
        lock.acquire()  # held by this test process, which is alive
        try:
            r = cli("backup", str(src))
            assert_clean_failure(
                r, "locked", f"pid {os.getpid()}", socket.gethostname(), code=EXIT_LOCKED
            )
            assert cli.ok("snapshots", "--json").json == []
        finally:
            lock.release()
    cli.ok("backup", str(src))


def test_two_backups_at_once_both_land_and_both_restore(cli: Cli, tmp_path: Path) -> None:
    """Backups take shared locks: run side by side, neither blocks or spoils the other, even
    when both store the same new data at the same time."""
    one = random_files(tmp_path / "one", 4, 6 << 20)
    two = tmp_path / "two"
    shutil.copytree(one, two)
    (two / "own.bin").write_bytes(os.urandom(1 << 20))
    sources = [one, two]
    procs = [
        subprocess.Popen(
            binary_argv(cli, "backup", str(s), "--json"),
            env=binary_env(cli),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in sources
    ]
    results = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert len(cli.ok("snapshots", "--json").json) == 2
    for source, (out, _) in zip(sources, results, strict=True):
        snap = json.loads(out)["snapshot_id"]
        target = tmp_path / f"back-{source.name}"
        cli.ok("restore", snap, "--target", str(target), "--verify")
        assert same_tree(source, target / source.relative_to("/"))


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


@pytest.mark.parametrize(
    ("host", "age", "exclusive", "blocks"),
    [
        ("elsewhere", timedelta(0), True, True),  # cannot tell if it is alive: honoured
        ("elsewhere", timedelta(hours=1), True, False),  # not refreshed for too long
        ("elsewhere", timedelta(0), False, False),  # shared: backups run side by side
        ("here-but-dead", timedelta(0), True, False),  # this host, no such process
    ],
)
def test_only_a_live_conflicting_lock_blocks_a_backup(
    cli: Cli, src: Path, host: str, age: timedelta, exclusive: bool, blocks: bool
) -> None:
    here = host == "here-but-dead"
    with api_repo(cli) as repo:
        plant_lock(
            repo,
            host=socket.gethostname() if here else host,
            pid=dead_pid() if here else 4242,
            when=datetime.now(UTC) - age,
            exclusive=exclusive,
        )
    r = cli("backup", str(src))
    if blocks:
        assert_clean_failure(r, "locked", "pid 4242 on elsewhere", code=EXIT_LOCKED)
    else:
        assert r.code == 0, r.err


# -- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named", "code"),
    [
        (("cat", "tree", "not-hex"), "not-hex", 2),
        (("ls", "zz"), "zz", 2),
        (("ls", "latest", "/no/such/path"), "/no is not in the snapshot", 1),
        (("restore", "latest", "--target", "/proc/no/such/dir"), "/proc/no/such/dir", 1),
        (("restore", "@2001-01-01", "--target", "unused"), "2001-01-01", 1),
    ],
)
def test_bad_arguments_are_named(
    cli: Cli, src: Path, args: tuple[str, ...], named: str, code: int
) -> None:
    cli.ok("backup", str(src))
    assert_clean_failure(cli(*args), named, code=code)


def test_init_over_a_repository_is_refused_before_any_password(cli: Cli) -> None:
    r = run_binary(cli, "init", without=("RIPCORD_PASSWORD",))
    assert_clean_failure(r, f"already exists at {cli.repo}", code=1)


@pytest.mark.parametrize("where", ["/proc/no/such/repo", "{tmp}/a-file/repo"])
def test_repository_that_cannot_be_created_is_named(cli: Cli, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    path = where.format(tmp=tmp_path)
    r = cli("-r", path, "init", "--kdf-iterations", "1", "--kdf-memory-mib", "1", repo=False)
    assert_clean_failure(r, path, code=1)


@pytest.mark.parametrize(
    ("source", "named"),
    [
        (("--password-file", "/no/such/file"), "/no/such/file"),
        (("--password-command", "exit 7"), "exit code 7"),
    ],
)
def test_password_that_cannot_be_had_is_a_usage_error(
    cli: Cli, source: tuple[str, ...], named: str
) -> None:
    r = run_binary(cli, *source, "snapshots", without=("RIPCORD_PASSWORD",))
    assert_clean_failure(r, named, code=2)
