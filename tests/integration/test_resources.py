"""Resources: a repository disk that fills mid-backup (clean failure, a consistent
repository, the space reclaimable), and memory that stays bounded on the shapes of
bench/resources.py, scaled down for CI (the full figures are in bench/RESULTS.md).

A full disk is a real one: a small tmpfs (mount works here, as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.faults import (
    assert_clean_failure,
    binary_argv,
    binary_env,
    random_files,
    small_tmpfs,
)
from tests.integration.test_roundtrip import same_tree


def used_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_full_repository_disk_leaves_it_consistent_and_its_space_reclaimable(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path / "small", "40m") as small:
        on_small = Cli(small / "repo", cli.env)
        on_small.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
        first = on_small.ok("backup", str(src), "--json").json["snapshot_id"]
        before = used_bytes(on_small.repo)
        big = random_files(tmp_path / "big", 14, 4 << 20)
        r = on_small("backup", str(big))
        assert_clean_failure(r, "no space", code=1)
        assert used_bytes(on_small.repo) > before  # it did fill the disk with packs
        on_small.ok("check", "--read-data")  # consistent: at most unreferenced data
        assert [s["id"] for s in on_small.ok("snapshots", "--json").json] == [first]
        on_small.ok("prune", "--max-unused", "0%")
        assert used_bytes(on_small.repo) <= before + (64 << 10)  # reclaimed
        for f in sorted(big.iterdir())[4:]:
            f.unlink()  # now it fits
        second = on_small.ok("backup", str(big), "--json").json["snapshot_id"]
        on_small.ok("check", "--read-data")
        out = tmp_path / "out"
        on_small.ok("restore", second, "--target", str(out), "--verify")
        assert same_tree(big, out / big.relative_to("/"))


# A child's peak RSS starts at its parent's size when forked (Linux keeps the high-water
# mark across exec), and pytest grows large: a small interpreter forks the command and
# reports its child's peak alone.
_MEASURE = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvpe(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def peak_rss_mib(cli: Cli, *args: str) -> float:
    """Run the installed binary to its end; the peak RSS the kernel saw (MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *binary_argv(cli, *args)],
        env=binary_env(cli),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1]) / 1024


# bounds far above what is measured (bench/RESULTS.md: 50-90 MiB at these sizes) and
# far below what holding the data, or a Python object per entry, would need
LIMIT_MIB = 250


@pytest.mark.parametrize("shape", ["sparse", "zeros", "entries"])
def test_memory_stays_bounded_on_huge_shapes(cli: Cli, tmp_path: Path, shape: str) -> None:
    src = tmp_path / "shape"
    src.mkdir()
    if shape == "sparse":
        with open(src / "sparse.img", "wb") as f:
            f.truncate(1 << 30)  # 1 GiB of zeros, nothing on disk
    elif shape == "zeros":
        (src / "zeros.bin").write_bytes(bytes(10_000_000))
    else:
        for i in range(20_000):
            os.close(os.open(src / f"f{i:07}", os.O_CREAT | os.O_WRONLY, 0o644))
    assert peak_rss_mib(cli, "backup", str(src)) < LIMIT_MIB
    out = tmp_path / "out"
    assert peak_rss_mib(cli, "restore", "latest", "--target", str(out), "--verify") < LIMIT_MIB
    restored = out / src.relative_to("/")
    assert sorted(os.listdir(restored)) == sorted(os.listdir(src))
    if shape != "entries":
        name = os.listdir(src)[0]
        assert (restored / name).stat().st_size == (src / name).stat().st_size
    shutil.rmtree(out)
