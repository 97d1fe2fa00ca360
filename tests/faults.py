"""Tools for fault tests: damage stored objects, craft hostile snapshots, and
provoke real faults (unreadable files, concurrent writers, a full disk, the
installed binary run under reduced privileges or killed).

Every helper works on real files and processes; nothing here patches ripcord.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import blake3
import msgpack

from ripcord.archive.node import Node
from ripcord.archive.trees import find, walk
from ripcord.errors import RipcordError
from ripcord.repository import DATA, Repository, Snapshot
from ripcord.repository.crypto import seal
from ripcord.repository.index import Location
from ripcord.repository.locks import LOCK_AAD
from ripcord.retention.prune import referenced
from ripcord.storage import LocalStore
from tests.conftest import PASSWORD, Cli, Result

Damage = Literal["missing", "truncated", "bitflip"]
DAMAGES: tuple[Damage, ...] = ("missing", "truncated", "bitflip")
TRACEBACK = "Traceback (most recent call last)"


def assert_clean_failure(r: Result, *names: str, code: int | None = None) -> None:
    """Non-zero exit (exactly `code` if given), each of `names` on stderr, no traceback."""
    assert r.code != 0, f"expected a failure, got exit 0: {r.out}"
    if code is not None:
        assert r.code == code, f"exit {r.code}, expected {code}: {r.err}"
    assert TRACEBACK not in r.err + r.out
    assert "unexpected error" not in r.err, r.err  # a bug, not a message
    for name in names:
        assert name in r.err, f"{name!r} not named in: {r.err}"


def damage(path: Path, how: Damage, at: int | None = None) -> None:
    """Delete, cut or flip one bit of a stored object (0444 files are made writable first).

    `at` is where to cut or which byte to flip; the middle of the file by default.
    """
    if how == "missing":
        path.unlink()
        return
    path.chmod(0o644)
    size = path.stat().st_size
    pos = size // 2 if at is None else at
    assert 0 <= pos < size, f"{pos} is outside {path} ({size} bytes)"
    if how == "truncated":
        os.truncate(path, pos)
    else:
        with open(path, "r+b") as f:
            f.seek(pos)
            byte = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([byte ^ 0x10]))


@contextmanager
def api_repo(cli: Cli) -> Iterator[Repository]:
    """The CLI's repository through the Python API, with a private in-memory index."""
    repo = Repository.open(LocalStore(cli.repo), PASSWORD.encode())
    try:
        yield repo
    finally:
        repo.close()


def node_at(repo: Repository, snap_id: str, path: Path | str) -> Node:
    return find(repo, bytes.fromhex(repo.load_snapshot(snap_id).tree), str(path))


def pack_path(cli: Cli, loc: Location) -> Path:
    return cli.repo / "data" / loc.pack[:2] / loc.pack


def frame_middle(loc: Location) -> int:
    """A byte inside the frame at `loc`, so that damage there hits that frame."""
    return loc.frame_offset + loc.frame_length // 2


def reached_by(
    repo: Repository, snap_id: str, root: Path, how: Damage, loc: Location, at: int
) -> set[Path]:
    """Files below `root` in the snapshot with a blob that damage to `loc.pack` at `at` hits."""

    def hit(b: Location) -> bool:
        if b.pack != loc.pack:
            return False
        if how == "truncated":
            return b.frame_offset + b.frame_length > at
        return how == "missing" or b.frame_offset <= at < b.frame_offset + b.frame_length

    return {
        Path(os.fsdecode(p)).relative_to(root)
        for p, n in walk(repo, node_at(repo, snap_id, root), bytes(root))
        if any(hit(repo.locate(b)) for b in n.content)
    }


def files_under(root: Path) -> dict[Path, bytes]:
    """Relative path -> content of every regular file below `root`."""
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_no_wrong_data(restored: Path, source: Path) -> None:
    """Every file restore left behind is byte-identical to its source (missing is fine)."""
    for rel, data in files_under(restored).items():
        assert data == (source / rel).read_bytes(), f"{rel} restored with wrong content"


# -- hostile repository content ---------------------------------------------------------


def raw_node(name: Any, kind: str = "file", **fields: Any) -> dict[str, Any]:
    """A tree entry as the wire carries it, with any name at all (no validation)."""
    doc = Node(name=b"placeholder", type=kind, mode=0o644).to_wire()
    doc.update(name=name, **fields)
    return doc


def raw_dir(repo: Repository, name: Any, children: list[dict[str, Any]]) -> dict[str, Any]:
    return raw_node(name, "dir", mode=0o755, subtree=raw_tree(repo, children))


def raw_file(repo: Repository, name: Any, data: bytes) -> dict[str, Any]:
    blob_id, _ = repo.add_blob(DATA, data)
    return raw_node(name, size=len(data), content=[blob_id], hash=blake3.blake3(data).digest())


def raw_tree(repo: Repository, nodes: list[dict[str, Any]]) -> bytes:
    """Save a tree document as given, bypassing Node's checks."""
    return repo.save_tree({"v": 1, "nodes": nodes})


def hostile_snapshot(repo: Repository, nodes: list[dict[str, Any]]) -> str:
    """A snapshot whose root tree holds `nodes` exactly as given."""
    root = raw_tree(repo, nodes)
    snap = Snapshot(
        time=datetime.now(UTC), host="hostile", user="mallory", paths=["/"], tree=root.hex()
    )
    return repo.save_snapshot(snap)


def nested_snapshot(cli: Cli, levels: int) -> str:
    """A snapshot holding one file `levels` folders deep (d/d/.../bottom)."""
    with api_repo(cli) as repo:
        node = raw_file(repo, b"bottom", b"at the bottom\n")
        for _ in range(levels):
            node = raw_dir(repo, b"d", [node])
        return hostile_snapshot(repo, [node])


def listing(root: Path) -> dict[str, tuple[int, bytes]]:
    """(mode, content or link target) of `root` and everything below, to prove it untouched."""
    out = {}
    for p in [root, *sorted(root.rglob("*"))]:
        st = p.lstat()
        body = os.readlink(p).encode() if p.is_symlink() else p.read_bytes() if p.is_file() else b""
        out[str(p.relative_to(root))] = (st.st_mode, body)
    return out


# -- real faults ------------------------------------------------------------------------


class ConcurrentWriter:
    """A thread that keeps rewriting the head of a file and growing it by a byte,
    until stopped (or a safety deadline): every read of it overlaps a change."""

    def __init__(self, path: Path, deadline_s: float = 300.0) -> None:
        self.path, self.deadline_s = path, deadline_s
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.writes = 0

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        try:
            end = os.fstat(fd).st_size
            deadline = time.monotonic() + self.deadline_s
            while not self._stop.is_set() and time.monotonic() < deadline:
                os.pwrite(fd, self.writes.to_bytes(8, "little"), 0)
                end += os.pwrite(fd, b"+", end)
                self.writes += 1
                self._started.set()
        finally:
            os.close(fd)

    def __enter__(self) -> ConcurrentWriter:
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real file system of `size` (needs root) mounted at `path` for the block."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@contextmanager
def read_only_view(path: Path, at: Path) -> Iterator[Path]:
    """`path` mounted read-only at `at` for the block (needs root), like write-protected media."""
    at.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(path), str(at)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(at)], check=True)
        yield at
    finally:
        subprocess.run(["umount", str(at)], check=True)


def installed_ripcord() -> str:
    """The console script installed beside this interpreter (the one users run)."""
    exe = Path(sys.executable).parent / "ripcord"
    found = str(exe) if exe.exists() else shutil.which("ripcord")
    assert found, "ripcord is not installed"
    return found


def binary_argv(cli: Cli, *args: str) -> list[str]:
    return [installed_ripcord(), "-r", str(cli.repo), *args]


def binary_env(cli: Cli, without: tuple[str, ...] = ()) -> dict[str, str]:
    """The installed binary's environment: ours plus the CLI fixture's, less `without`."""
    env = {**os.environ, **cli.env}
    return {k: v for k, v in env.items() if k not in without}


# Root reads any file through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH; without them in
# its bounding set, a file of mode 000 refuses root like anyone else.
WITHOUT_DAC_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-all",
    "--",
]


def run_binary(
    cli: Cli, *args: str, wrapper: list[str] | None = None, without: tuple[str, ...] = ()
) -> Result:
    """Run the installed binary with no terminal on stdin, optionally under `wrapper`."""
    done = subprocess.run(
        [*(wrapper or []), *binary_argv(cli, *args)],
        env=binary_env(cli, without),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def pack_names(cli: Cli) -> set[str]:
    data = cli.repo / "data"
    return {p.name for p in data.rglob("*") if p.is_file()} if data.exists() else set()


def random_files(root: Path, count: int, size: int) -> Path:
    """`count` files of `size` random bytes: nothing to compress or deduplicate."""
    root.mkdir()
    for i in range(count):
        (root / f"{i:03}.bin").write_bytes(os.urandom(size))
    return root


def start_until(
    cli: Cli, args: list[str], ready: Callable[[], bool], deadline_s: float = 300
) -> subprocess.Popen[str]:
    """Start the installed binary; return once `ready()` holds, with the process still
    running (asserted), so the caller can interrupt it midway."""
    proc = subprocess.Popen(
        binary_argv(cli, *args),
        env=binary_env(cli),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + deadline_s
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.01)
    if proc.poll() is not None or not ready():
        proc.kill()
        proc.communicate()
        raise AssertionError(f"ripcord {args[0]} was not caught midway")
    return proc


def backup_until_packs_exist(cli: Cli, path: Path) -> subprocess.Popen[str]:
    """A backup of `path`, caught once it has stored a new pack."""
    before = pack_names(cli)
    return start_until(cli, ["backup", str(path)], lambda: bool(pack_names(cli) - before))


def restore_until_files_exist(cli: Cli, snap: str, target: Path) -> subprocess.Popen[str]:
    """A restore into `target`, caught once it has written a regular file."""
    args = ["restore", snap, "--target", str(target)]
    return start_until(cli, args, lambda: any(p.is_file() for p in target.rglob("*")))


def plant_lock(
    repo: Repository, *, host: str, pid: int, when: datetime, exclusive: bool = True
) -> str:
    """A lock object as another process (maybe on another host) would have written it."""
    doc = {"host": host, "pid": pid, "time": when.isoformat(), "exclusive": exclusive}
    name = f"locks/{os.urandom(16).hex()}"
    repo.store.put(name, seal(repo.key, bytes(msgpack.packb(doc)), LOCK_AAD))
    return name


# -- pruning beside backups -------------------------------------------------------------


def spawn(cli: Cli, *args: str) -> subprocess.Popen[str]:
    """Start the installed binary and return at once, to race it against another."""
    return subprocess.Popen(
        binary_argv(cli, *args),
        env=binary_env(cli),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def collect(proc: subprocess.Popen[str], timeout_s: float = 120) -> Result:
    """Wait for a spawned binary and collect what it said."""
    out, err = proc.communicate(timeout=timeout_s)
    return Result(proc.returncode, out, err)


def stored_names(cli: Cli, kind: str) -> set[str]:
    """Names of the objects under `kind` (pending, locks, snapshots...) of the CLI's repo."""
    folder = cli.repo / kind
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def assert_snapshots_readable(repo: Repository) -> None:
    """Every blob every live snapshot uses can be read and authenticated: the check that
    prune deleted nothing a snapshot still needs (until `ripcord check` exists)."""
    for snap in repo.snapshots():
        try:
            used, _ = referenced(repo, [snap])
            for blob_id in used:
                repo.read_blob(blob_id)
        except RipcordError as e:
            raise AssertionError(f"snapshot {snap.id[:12]} is damaged: {e}") from e
    assert not repo.left_out, f"unreadable objects: {repo.left_out}"


def unindexed_packs(repo: Repository) -> set[str]:
    """Stored packs that no index file lists (a killed writer's or prune's leftovers)."""
    listed = {p for info in repo.store.list("index") for p, _ in repo.read_index_file(info.name)}
    return set(repo.pack_sizes()) - listed


def kill_when(cli: Cli, args: list[str], ready: Callable[[], bool]) -> None:
    """Run the installed binary and SIGKILL it once `ready()` holds: no cleanup runs."""
    proc = start_until(cli, args, ready)
    proc.kill()
    proc.communicate()
