"""Metadata fidelity through the CLI: a restored tree is the backed-up tree.

Each test adds one kind of metadata to the `src` tree, backs it up, restores
it and compares the two trees entry by entry (tests/trees.py), then checks the
point of the test directly so a failure says what broke. Runs as root on a
file system with xattrs and ACLs (ext4).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Cli
from tests.trees import (
    allocated,
    assert_round_trip,
    assert_same,
    file_digest,
    getfacl,
    make_files,
    restored,
    round_trip,
    setfacl,
    tree_diff,
    tree_state,
)

MiB = 1 << 20


def test_mode_bits_including_setuid_setgid_and_sticky(cli: Cli, src: Path, tmp_path: Path) -> None:
    modes = {"suid": 0o4755, "sgid": 0o2750, "private": 0o600, "readonly": 0o444, "none": 0o000}
    for name, mode in modes.items():
        (src / name).write_text(name)
        os.chmod(src / name, mode)
    for name, mode in (("shared", 0o1777), ("team", 0o2775)):
        (src / name).mkdir()
        os.chmod(src / name, mode)
    (src / "locked").mkdir()
    (src / "locked" / "inside").write_text("x")
    os.chmod(src / "locked", 0o500)
    out = assert_round_trip(cli, src, tmp_path / "out")
    for name, mode in modes.items():
        assert stat.S_IMODE(os.lstat(out / name).st_mode) == mode, name
    assert stat.S_IMODE(os.lstat(out / "shared").st_mode) == 0o1777
    assert stat.S_IMODE(os.lstat(out / "team").st_mode) == 0o2775
    assert (out / "locked" / "inside").read_text() == "x"


def test_owner_uid_and_gid_are_restored(cli: Cli, src: Path, tmp_path: Path) -> None:
    (src / "owned").write_text("mine")
    os.chown(src / "owned", 1234, 5678)
    os.chmod(src / "owned", 0o6755)  # a chown after the chmod would strip set-id bits
    os.chown(src / "docs", 1234, 5678)
    (src / "big-ids").write_text("ids above 2**31")
    os.chown(src / "big-ids", 3_000_000_000, 4_000_000_000)
    os.symlink("owned", src / "link")
    os.chown(src / "link", 4321, 8765, follow_symlinks=False)
    out = assert_round_trip(cli, src, tmp_path / "out")
    st = os.lstat(out / "owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o6755)
    assert (os.lstat(out / "docs").st_uid, os.lstat(out / "docs").st_gid) == (1234, 5678)
    assert (os.lstat(out / "link").st_uid, os.lstat(out / "link").st_gid) == (4321, 8765)
    assert os.lstat(out / "big-ids").st_uid == 3_000_000_000


def test_mtime_and_atime_keep_nanoseconds(cli: Cli, src: Path, tmp_path: Path) -> None:
    """Backup reads files with O_NOATIME, so their atimes survive the backup itself.

    A symlink's atime moves when backup reads the link (readlink has no
    O_NOATIME), so only its mtime is checked.
    """
    times = {"a.txt": (1_500_000_000_123_456_789, 1_600_000_000_987_654_321)}
    times["zero"] = (1_000_000_001_000_000_007, 999_999_999_999_999_999)
    (src / "1969").write_text("before the epoch")
    times["1969"] = (-86_400_000_000_001, -1_000_000_007)
    (src / "2200").write_text("far ahead")
    times["2200"] = (7_258_118_400_000_000_001, 7_258_118_400_123_456_789)
    for name, ns in times.items():
        os.utime(src / name, ns=ns)
    os.symlink("a.txt", src / "link")
    os.utime(src / "link", ns=(0, 1_300_000_000_000_000_003), follow_symlinks=False)
    out = assert_round_trip(cli, src, tmp_path / "out")
    for name, (atime, mtime) in times.items():
        st = os.lstat(out / name)
        assert (st.st_atime_ns, st.st_mtime_ns) == (atime, mtime), name
    assert os.lstat(out / "link").st_mtime_ns == 1_300_000_000_000_000_003


def test_restore_verify_leaves_atimes_alone(cli: Cli, src: Path, tmp_path: Path) -> None:
    os.utime(src / "a.txt", ns=(1_500_000_000_123_456_789, 1_600_000_000_987_654_321))
    out = round_trip(cli, src, tmp_path / "out", "--verify")
    assert os.lstat(out / "a.txt").st_atime_ns == 1_500_000_000_123_456_789


def test_user_and_trusted_xattrs_on_files_and_dirs(cli: Cli, src: Path, tmp_path: Path) -> None:
    values = {"user.note": b"keep me", "user.binary": bytes(range(256)), "user.empty": b""}
    values["user.big"] = os.urandom(3000)
    values["trusted.root-only"] = b"root sees and sets these"
    for k, v in values.items():
        os.setxattr(src / "a.txt", k, v)
    os.setxattr(src / "docs", "user.dir", b"on a directory")
    out = assert_round_trip(cli, src, tmp_path / "out")
    for k, v in values.items():
        assert os.getxattr(out / "a.txt", k) == v
    assert os.getxattr(out / "docs", "user.dir") == b"on a directory"


def test_posix_acls_access_and_default(cli: Cli, src: Path, tmp_path: Path) -> None:
    setfacl(src / "a.txt", "u:nobody:r")
    setfacl(src / "docs", "g:nogroup:rwx")
    setfacl(src / "docs", "u:nobody:rx", "-d")
    (src / "docs" / "inherited.txt").write_text("gets the default ACL")
    before = {p: getfacl(src / p) for p in ("a.txt", "docs", "docs/inherited.txt")}
    default = getfacl(src / "docs", "--default")
    nobody = pwd.getpwnam("nobody").pw_uid
    assert f"user:{nobody}:r--" in before["a.txt"]
    assert f"user:{nobody}:r-x" in default
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert {p: getfacl(out / p) for p in before} == before
    assert getfacl(out / "docs", "--default") == default


def test_restored_files_do_not_inherit_the_targets_default_acl(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    """A default ACL on the target (or on a directory restored twice) must not leak in."""
    target = tmp_path / "out"
    target.mkdir()
    setfacl(target, "u:nobody:rwx", "-d")
    out = round_trip(cli, src, target)
    for p in ("a.txt", "docs", "docs/report.txt", "empty"):
        assert getfacl(out / p) == getfacl(src / p), p
        assert getfacl(out / p, "--default") == "", p


def test_file_capabilities_survive_the_owner_change(cli: Cli, src: Path, tmp_path: Path) -> None:
    """chown clears security.capability, so restore must set it after the owner."""
    tool = src / "ping"
    tool.write_bytes(b"#!/bin/true\n")
    os.chown(tool, 1234, 5678)
    os.chmod(tool, 0o755)
    subprocess.run(["setcap", "cap_net_raw+ep", str(tool)], check=True)
    caps = os.getxattr(tool, "security.capability")
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert os.getxattr(out / "ping", "security.capability") == caps


def test_symlinks_are_restored_as_links_and_never_followed(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("untouched")
    links = {
        "relative": "docs/report.txt",
        "up": "../src/a.txt",
        "absolute": str(outside / "victim"),
        "to_dir": str(outside),
        "dangling": "does/not/exist",
    }
    for name, target in links.items():
        os.symlink(target, src / name)
    out = assert_round_trip(cli, src, tmp_path / "out")
    for name, target in links.items():
        assert (out / name).is_symlink(), name
        assert os.readlink(out / name) == target
    assert os.listdir(outside) == ["victim"]
    assert (outside / "victim").read_text() == "untouched"


def test_hard_links_are_links_when_all_are_restored(cli: Cli, src: Path, tmp_path: Path) -> None:
    links = [src / "docs" / "twin", src / "a.txt", src / "third"]
    for link in (links[0], links[2]):
        link.hardlink_to(links[1])
    assert_round_trip(cli, src, tmp_path / "out")  # compares the hard-link groups too
    out = [restored(tmp_path / "out", p) for p in links]
    assert len({os.lstat(p).st_ino for p in out}) == 1
    assert os.lstat(out[0]).st_nlink == 3

    paths = [str(p) for p in links[:2]] + [str(src)]  # named one by one, and overlapping
    cli.ok("restore", "latest", *paths, "--target", str(tmp_path / "two"))
    out = [restored(tmp_path / "two", p) for p in links]
    assert len({os.lstat(p).st_ino for p in out}) == 1
    assert os.lstat(out[0]).st_nlink == 3


def test_hard_link_restored_alone_is_an_independent_copy(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    (src / "docs" / "twin").hardlink_to(src / "a.txt")
    cli.ok("backup", str(src))
    cli.ok("restore", "latest", str(src / "docs"), "--target", str(tmp_path / "one"))
    twin = restored(tmp_path / "one", src / "docs" / "twin")
    assert twin.read_text() == "hello world\n"
    assert os.lstat(twin).st_nlink == 1
    assert not restored(tmp_path / "one", src / "a.txt").exists()

    cli.ok("restore", "latest", "--target", str(tmp_path / "ex"), "--exclude", "twin")
    alone = restored(tmp_path / "ex", src / "a.txt")
    assert alone.read_text() == "hello world\n"
    assert os.lstat(alone).st_nlink == 1


def test_metadata_changes_alone_reach_the_next_snapshot(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    """An incremental backup reuses unchanged content, never stale metadata."""
    cli.ok("backup", str(src))
    f = src / "docs" / "report.txt"
    setfacl(f, "u:nobody:rw")
    os.chmod(f, 0o4711)  # after setfacl, which sets the group (mask) bits
    os.setxattr(f, "user.added", b"later")
    os.chown(src / "zero", 1234, 5678)
    os.utime(src / "a.txt", ns=(1_000_000_000_000_000_001, 1_100_000_000_000_000_011))
    os.chmod(src / "docs" / "deep", 0o750)
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert os.getxattr(out / "docs" / "report.txt", "user.added") == b"later"
    assert stat.S_IMODE(os.lstat(out / "docs" / "report.txt").st_mode) == 0o4711


def test_fifos_are_restored_as_fifos_with_their_acls(cli: Cli, src: Path, tmp_path: Path) -> None:
    os.mkfifo(src / "pipe", 0o640)
    os.mkfifo(src / "acl-pipe", 0o600)
    setfacl(src / "acl-pipe", "u:nobody:r")
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert stat.S_ISFIFO(os.lstat(out / "pipe").st_mode)
    assert getfacl(out / "acl-pipe") == getfacl(src / "acl-pipe")


def test_device_nodes_keep_their_numbers(cli: Cli, src: Path, tmp_path: Path) -> None:
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(src / "loop", 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    os.chown(src / "loop", 0, 6)
    setfacl(src / "loop", "g:nogroup:rw")
    out = assert_round_trip(cli, src, tmp_path / "out")
    st = os.lstat(out / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    st = os.lstat(out / "loop")
    assert stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(7, 200)
    assert getfacl(out / "loop") == getfacl(src / "loop")


def test_sparse_file_comes_back_with_its_holes(cli: Cli, src: Path, tmp_path: Path) -> None:
    sparse = src / "disk.img"
    with open(sparse, "wb") as f:
        f.truncate(200 * MiB)
        f.seek(100 * MiB)
        f.write(os.urandom(MiB))
    assert allocated(sparse) < 2 * MiB
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert os.lstat(out / "disk.img").st_size == 200 * MiB
    assert allocated(out / "disk.img") < 8 * MiB
    assert file_digest(out / "disk.img") == file_digest(sparse)


def test_empty_files_and_dirs(cli: Cli, src: Path, tmp_path: Path) -> None:
    (src / "empty" / "nested-empty").mkdir()
    (src / "empty-file").touch()
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert os.listdir(out / "empty") == ["nested-empty"]
    assert os.listdir(out / "empty" / "nested-empty") == []
    assert (out / "empty-file").read_bytes() == b""


def test_directory_mtimes_are_set_after_their_children(cli: Cli, src: Path, tmp_path: Path) -> None:
    dirs = ["docs", "docs/deep", "docs/deep/er", "empty", "."]
    for i, d in enumerate(dirs):
        os.utime(src / d, ns=(0, 1_000_000_000_000_000_000 + i * 1_000_000_007))
    before = tree_state(src)
    out = assert_round_trip(cli, src, tmp_path / "out")
    for d in dirs:
        assert os.lstat(out / d).st_mtime_ns == before.entries[d].mtime_ns, d


def _replace(path: Path, make: Callable[[Path], object]) -> None:
    path.unlink()
    make(path)


def _all_hole(path: Path) -> None:
    with open(path, "wb") as f:
        f.truncate(MiB)


def test_the_tree_comparison_itself_sees_every_kind_of_difference(tmp_path: Path) -> None:
    """The round trips above are only as strong as tests/trees.py: prove it notices."""
    base = tmp_path / "base"
    make_files(base, {"d/": "", "f": "same", "g": "same"})
    os.symlink("f", base / "l")
    os.mknod(base / "c", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    changes: dict[str, Callable[[Path], object]] = {
        "mode": lambda r: os.chmod(r / "f", 0o4644),
        "uid": lambda r: os.chown(r / "f", 7, -1),
        "gid": lambda r: os.chown(r / "f", -1, 7),
        "mtime_ns": lambda r: os.utime(r / "d", ns=(1, 3)),
        "target": lambda r: _replace(r / "l", lambda p: p.symlink_to("g")),
        "xattrs": lambda r: os.setxattr(r / "f", "user.x", b"1"),
        "digest": lambda r: (r / "g").write_text("diff"),
        "sparse": lambda r: _replace(r / "g", _all_hole),
        "rdev": lambda r: _replace(r / "c", lambda p: os.mknod(p, stat.S_IFCHR, os.makedev(1, 5))),
        "type": lambda r: _replace(r / "g", os.mkfifo),
        "links": lambda r: _replace(r / "g", lambda p: p.hardlink_to(r / "f")),
    }
    for what, change in changes.items():
        case = tmp_path / what
        subprocess.run(["cp", "-a", str(base), str(case)], check=True)
        before = tree_state(case)
        assert tree_diff(before, tree_state(case)) == []
        change(case)
        diff = tree_diff(before, tree_state(case))
        assert any(f"{what} " in line for line in diff), (what, diff)


def test_everything_at_once_survives_an_incremental_backup_and_a_second_restore(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    """All kinds together, through the unchanged-file path and into a used target."""
    (src / "suid").write_text("s")
    os.chown(src / "suid", 1234, 5678)
    os.chmod(src / "suid", 0o4755)
    os.setxattr(src / "a.txt", "user.k", b"v")
    setfacl(src / "docs", "u:nobody:rx", "-d")
    setfacl(src / "docs" / "report.txt", "u:nobody:rw")
    (src / "docs" / "deep" / "link").hardlink_to(src / "a.txt")
    os.symlink("../a.txt", src / "docs" / "rel")
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with open(src / "holes", "wb") as f:
        f.truncate(8 * MiB)
        f.seek(4 * MiB)
        f.write(b"x" * 4096)
    os.utime(src / "docs", ns=(1, 1_234_567_890_123_456_789))
    before = tree_state(src)
    target = tmp_path / "out"
    out = round_trip(cli, src, target)
    assert_same(before, tree_state(out))
    os.utime(out / "a.txt", ns=(0, 0))  # the target drifts: restore must set it back
    os.chmod(out / "suid", 0o777)
    second = cli.ok("backup", str(src), "--json").json
    assert second["files_unchanged"] == second["total_files"]
    cli.ok("restore", "latest", "--target", str(target))
    assert_same(before, tree_state(out))
