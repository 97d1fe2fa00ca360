"""ripcord mount: snapshots as a read-only FUSE folder, mounted by the installed binary
(real libfuse, real kernel), and the same file system driven in-process where a test
must count what it reads from the repository."""

from __future__ import annotations

import os
import random
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.mount.fs import SnapshotFs
from ripcord.mount.view import SnapshotRoot, everything, reread
from ripcord.repository import Repository, Snapshot
from ripcord.storage import LocalStore, ObjectInfo, PutOptions, Store
from tests.conftest import PASSWORD, Cli, Result
from tests.faults import (
    api_repo,
    assert_clean_failure,
    binary_argv,
    binary_env,
    collect,
    hostile_snapshot,
    installed_ripcord,
    node_at,
    raw_dir,
    raw_file,
    raw_tree,
)
from tests.trees import assert_same, tree_state

needs_fuse = pytest.mark.skipif(
    not os.path.exists("/dev/fuse"), reason="/dev/fuse is absent: nothing can be mounted here"
)
BIG = 6 << 20  # several chunks of ~1 MiB


@pytest.fixture(scope="module")
def big_data() -> bytes:
    return random.Random(9).randbytes(BIG)


@pytest.fixture
def backed_up(cli: Cli, tmp_path: Path, big_data: bytes) -> Path:
    """Two snapshots of one tree: the first still has gone/, deleted before the second."""
    src = tmp_path / "src"
    (src / "docs" / "deep").mkdir(parents=True)
    (src / "gone").mkdir()
    (src / "gone" / "old.txt").write_text("deleted later\n")
    (src / "big.bin").write_bytes(big_data)
    (src / "docs" / "a.txt").write_text("hello\n")
    (src / "docs" / "deep" / "b.txt").write_text("deep " * 1000)
    (src / "empty").mkdir()
    (src / "zero").write_bytes(b"")
    (src / os.fsdecode(b"caf\xe9")).write_text("not UTF-8\n")
    os.symlink("docs/a.txt", src / "link")
    os.symlink("/nowhere/at/all", src / "dangling")
    os.link(src / "docs" / "a.txt", src / "hard")
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", 0o600 | 0o020000, os.makedev(1, 3))
    os.chmod(src / "docs" / "a.txt", 0o640)
    os.chown(src / "docs" / "deep" / "b.txt", 1234, 5678)
    os.setxattr(src / "docs" / "a.txt", "user.note", b"\x00binary\xff")
    os.utime(src / "zero", ns=(1_000_000_123, 1_600_000_000_987_654_321))
    cli.ok("backup", "--tag", "nightly", str(src))
    (src / "gone" / "old.txt").unlink()
    (src / "gone").rmdir()
    cli.ok("backup", str(src))
    return src


@contextmanager
def mounted(
    cli: Cli,
    mnt: Path,
    *spec: str,
    options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """`ripcord [OPTIONS] mount [SPEC] MNT` by the installed binary (OPTIONS: -r REPO by
    default), once it says it is mounted; unmounted in the end whatever happened."""
    mnt.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [installed_ripcord(), *(options or ("-r", str(cli.repo))), "mount", *spec, str(mnt)],
        env={**binary_env(cli), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the mount is up, or the process has ended
        if "Mounted at" not in line:
            proc.kill()
            r = collect(proc)
            raise AssertionError(f"mount did not come up (exit {r.code}): {line}{r.out}{r.err}")
        assert os.path.ismount(mnt)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def inside(mnt: Path, snapshot_dir: str, path: Path) -> Path:
    """Where `path` shows in the mount's snapshot folder `snapshot_dir`."""
    return mnt / snapshot_dir / path.relative_to("/")


def snapshot_ids(cli: Cli) -> list[str]:
    return [s["id"] for s in cli.ok("snapshots", "--json").json]


@needs_fuse
def test_every_snapshot_is_browsable_like_the_source(
    cli: Cli, backed_up: Path, tmp_path: Path, big_data: bytes
) -> None:
    older, newer = snapshot_ids(cli)
    mnt = tmp_path / "mnt"
    with mounted(cli, mnt):
        assert sorted(os.listdir(mnt)) == ["hosts", "ids", "latest", "snapshots", "tags"]
        times = sorted(n for n in os.listdir(mnt / "snapshots") if n != "latest")
        assert len(times) == 2
        assert os.readlink(mnt / "latest") == f"snapshots/{times[1]}"
        assert os.readlink(mnt / "snapshots" / "latest") == times[1]
        assert sorted(os.listdir(mnt / "ids")) == sorted([older[:12], newer[:12]])
        (host,) = os.listdir(mnt / "hosts")
        assert sorted(os.listdir(mnt / "hosts" / host)) == [*times, "latest"]
        assert sorted(os.listdir(mnt / "tags")) == ["nightly"]
        assert sorted(os.listdir(mnt / "tags" / "nightly")) == [times[0], "latest"]

        # the newest snapshot is the source as it is now: content, modes, owners,
        # times, links, hard links, special files, xattrs
        assert_same(tree_state(backed_up), tree_state(inside(mnt, "latest", backed_up)))
        assert_same(tree_state(backed_up), tree_state(inside(mnt, f"ids/{newer[:12]}", backed_up)))
        # the older one still has the folder deleted since
        old = inside(mnt, f"snapshots/{times[0]}", backed_up)
        assert (old / "gone" / "old.txt").read_text() == "deleted later\n"
        assert not inside(mnt, "latest", backed_up).joinpath("gone").exists()
        st = os.lstat(old / "zero")
        assert (st.st_mtime_ns, st.st_atime_ns) == (1_600_000_000_987_654_321, 1_000_000_123)

        # reads at random offsets and lengths, across chunk boundaries
        rng = random.Random(4)
        fd = os.open(inside(mnt, "latest", backed_up) / "big.bin", os.O_RDONLY)
        try:
            for _ in range(200):
                offset = rng.randrange(BIG + 10)
                length = rng.choice([1, 7, 4096, 100_000, 1 << 20, 3 << 20])
                assert os.pread(fd, length, offset) == big_data[offset : offset + length]
        finally:
            os.close(fd)
        # nothing can be written
        with pytest.raises(OSError):
            (inside(mnt, "latest", backed_up) / "new").write_text("x")


@needs_fuse
def test_one_snapshot_at_the_root(cli: Cli, backed_up: Path, tmp_path: Path) -> None:
    older, _ = snapshot_ids(cli)
    mnt = tmp_path / "mnt"
    with mounted(cli, mnt, older[:8]):
        assert os.listdir(mnt) == [backed_up.parts[1]]
        assert (mnt / backed_up.relative_to("/") / "gone" / "old.txt").exists()


@needs_fuse
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "umount"])
def test_ctrl_c_sigterm_or_umount_end_it_cleanly(
    cli: Cli, backed_up: Path, tmp_path: Path, how: str
) -> None:
    mnt = tmp_path / "mnt"
    with mounted(cli, mnt, "latest") as proc:
        if how == "umount":
            subprocess.run(["umount", str(mnt)], check=True)
        else:
            proc.send_signal(signal.Signals[how])
        r = collect(proc, timeout_s=60)
        assert r.code == 0, r.err
        assert "Unmounted" in r.out
        assert not os.path.ismount(mnt)
        assert "Traceback" not in r.err


@needs_fuse
def test_a_plan_repository_by_name(cli: Cli, backed_up: Path, tmp_path: Path) -> None:
    secret = tmp_path / "usb.pass"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[[source]]\npaths = ["{backed_up}"]\n\n[repository.usb]\nurl = "{cli.repo}"\n'
        f'media = "disk"\npassword_file = "{secret}"\n'
    )
    mnt = tmp_path / "mnt"
    # RIPCORD_PASSWORD is wrong: the plan's password file opens the repository
    with mounted(
        cli, mnt, options=("--plan", str(plan), "-r", "usb"), env={"RIPCORD_PASSWORD": "wrong"}
    ):
        assert (inside(mnt, "latest", backed_up) / "docs" / "a.txt").read_text() == "hello\n"


def test_a_missing_or_full_mount_point_is_refused(cli: Cli, tmp_path: Path) -> None:
    r = cli("mount", str(tmp_path / "nope"))
    assert_clean_failure(r, "does not exist", code=2)
    full = tmp_path / "full"
    full.mkdir()
    (full / "file").write_text("x")
    assert_clean_failure(cli("mount", "latest", str(full)), "is not empty", code=2)
    assert_clean_failure(cli("mount", "a", "b", str(full)), "MOUNTPOINT", code=2)


def test_without_libfuse_the_message_says_how_to_get_it(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    env = {**binary_env(cli), "FUSE_LIBRARY_PATH": str(tmp_path / "no-such-libfuse.so.3")}
    done = subprocess.run(
        binary_argv(cli, "mount", str(tmp_path / "mnt")),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    r = Result(done.returncode, done.stdout, done.stderr)
    fix = "apt-get install fuse3" if os.path.exists("/dev/fuse") else "/dev/fuse"
    assert_clean_failure(r, "FUSE is not available", fix, code=1)


# -- in-process: what a read costs ------------------------------------------------------


class CountingStore:
    """A store that records every read, to show what a mount fetches."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.capabilities = inner, inner.capabilities
        self.gets: list[tuple[str, int, int | None]] = []

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        self.inner.put(name, data, options)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        self.gets.append((name, offset, length))
        return self.inner.get(name, offset, length)

    def stat(self, name: str) -> ObjectInfo:
        return self.inner.stat(name)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def close(self) -> None:
        self.inner.close()


@contextmanager
def counted(cli: Cli) -> Iterator[tuple[Repository, CountingStore]]:
    store = CountingStore(LocalStore(cli.repo))
    repo = Repository.open(store, PASSWORD.encode())
    try:
        yield repo, store
    finally:
        repo.close()


def test_reading_the_last_byte_fetches_only_the_last_chunk(
    cli: Cli, backed_up: Path, big_data: bytes
) -> None:
    with counted(cli) as (repo, store):
        snap = repo.snapshots()[-1]
        chunks = node_at(repo, snap.id, backed_up / "big.bin").content
        assert len(chunks) >= 3
        fs = SnapshotFs(repo, SnapshotRoot(snap), warn=pytest.fail)
        path = str(backed_up / "big.bin")
        fh = fs.open(path, os.O_RDONLY)
        store.gets.clear()
        assert fs.read(path, 1, BIG - 1, fh) == big_data[-1:]
        fetched = [g for g in store.gets if g[0].startswith("data/")]
        assert len(fetched) == 1 and fs.chunks.decoded == 1
        assert sum(g[2] or 0 for g in fetched) < BIG // 2

        # sequential 128 KiB reads decode each chunk once, not once per read
        whole = b"".join(fs.read(path, 128 << 10, off, fh) for off in range(0, BIG, 128 << 10))
        assert whole == big_data
        assert fs.chunks.decoded == len(set(chunks))
        fs.release(path, fh)


def test_random_reads_match_the_source(cli: Cli, backed_up: Path, big_data: bytes) -> None:
    with api_repo(cli) as repo:
        snap = repo.snapshots()[-1]
        fs = SnapshotFs(repo, SnapshotRoot(snap), warn=pytest.fail)
        path = str(backed_up / "big.bin")
        fh = fs.open(path, os.O_RDONLY)
        starts = [0]
        for blob_id in node_at(repo, snap.id, path).content:
            starts.append(starts[-1] + repo.locate(blob_id).length)
        # offsets near chunk boundaries, or anywhere
        near = st.sampled_from(starts).flatmap(lambda b: st.integers(max(b - 3, 0), b + 3))

        @settings(max_examples=300, deadline=None)
        @given(offset=st.one_of(near, st.integers(0, BIG + 5)), size=st.integers(0, 3 << 20))
        def reads_match(offset: int, size: int) -> None:
            assert fs.read(path, size, offset, fh) == big_data[offset : offset + size]

        reads_match()


def listed(fs: SnapshotFs, path: str) -> list[str]:
    return [e if isinstance(e, str) else e[0] for e in fs.readdir(path, 0)][2:]  # no . ..


def test_hostile_names_are_skipped_with_a_warning(cli: Cli) -> None:
    with api_repo(cli) as repo:
        hostile = hostile_snapshot(
            repo,
            [
                raw_file(repo, b"..", b"up"),
                raw_file(repo, b"a/b", b"slash"),
                raw_file(repo, b"nul\0", b"nul"),
                raw_file(repo, b"good", b"good\n"),
                raw_dir(repo, b"sub", [raw_file(repo, b"fine", b"ok")]),
            ],
        )
        empty = raw_tree(repo, [])
        when = datetime.now(UTC)
        repo.save_snapshot(Snapshot(when, "../etc", "m", ["/"], empty.hex(), tags=["x/y", "ok"]))
        warnings: list[str] = []
        fs = SnapshotFs(repo, everything(repo.snapshots(), warnings.append), warnings.append)
        assert listed(fs, "/hosts") == ["hostile"]
        assert listed(fs, "/tags") == ["ok"]
        assert len(warnings) == 2 and all("not a folder name" in w for w in warnings)

        root = f"/ids/{hostile[:12]}"
        assert listed(fs, root) == ["good", "sub"]
        assert listed(fs, root + "/sub") == ["fine"]
        assert len(warnings) == 5 and all("not shown" in w for w in warnings[2:])
        fh = fs.open(root + "/good", os.O_RDONLY)
        assert fs.read(root + "/good", 100, 0, fh) == b"good\n"
        with pytest.raises(FileNotFoundError):
            fs.getattr(root + "/..x")


def test_a_backup_made_while_mounted_appears(cli: Cli, backed_up: Path) -> None:
    with api_repo(cli) as repo:
        warnings: list[str] = []
        fs = SnapshotFs(
            repo,
            everything(repo.snapshots(), warnings.append),
            warnings.append,
            reload=lambda: reread(repo, warnings.append),
            every=0,
        )
        before = listed(fs, "/snapshots")
        (backed_up / "written-while-mounted.txt").write_text("new\n")
        cli.ok("backup", str(backed_up))
        after = listed(fs, "/snapshots")
        assert len(after) == len(before) + 1 and set(before) < set(after)
        assert fs.readlink("/snapshots/latest") == sorted(set(after) - {"latest"})[-1]
        (new,) = set(after) - set(before) - {"latest"}
        newest = f"/snapshots/{new}{backed_up}/written-while-mounted.txt"
        fh = fs.open(newest, os.O_RDONLY)
        assert fs.read(newest, 100, 0, fh) == b"new\n"
        assert warnings == []
