"""Crafted snapshots restored end to end: nothing may appear outside the target.

Trees are built as a hostile writer with the key would build them (tests/faults.py
skips every check Node makes), from names, link targets and hard links chosen to
escape, then restored, listed and searched by the real CLI.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripcord.archive.trees import MAX_DEPTH
from tests.conftest import Cli
from tests.faults import (
    TRACEBACK,
    api_repo,
    assert_clean_failure,
    hostile_snapshot,
    listing,
    nested_snapshot,
    raw_dir,
    raw_file,
    raw_node,
)
from tests.fuzz.corpus import EXAMPLES

NAMES = [b"a", b"b", b"..", b".", b"", b"/", b"a/b", b"../x", b"x\x00y", b"\x1b[2J", b"\n", b"a"]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim").write_text("untouched\n")
    return d


@pytest.fixture
def deep_target(tmp_path: Path) -> Iterator[Path]:
    """A restore target removed with `rm -rf` afterwards: pytest's clean-up of old
    temporary directories (shutil.rmtree) recurses per level and fails on deep ones."""
    yield tmp_path / "t"
    subprocess.run(["rm", "-rf", str(tmp_path / "t")], check=True)


def test_a_snapshot_nested_past_the_limit_is_refused_cleanly(
    cli: Cli, deep_target: Path, outside: Path
) -> None:
    before = listing(outside)
    snap = nested_snapshot(cli, 2000)
    r = cli("restore", snap, "--target", str(deep_target), "--json")
    assert r.code == 3 and TRACEBACK not in r.err
    assert f"deeper than {MAX_DEPTH} levels" in r.out
    for args in (("ls", snap), ("find", "bottom")):
        assert_clean_failure(cli(*args), f"deeper than {MAX_DEPTH} levels")
    assert listing(outside) == before


def test_a_snapshot_nested_within_the_limit_restores(cli: Cli, deep_target: Path) -> None:
    snap = nested_snapshot(cli, MAX_DEPTH - 1)
    cli.ok("restore", snap, "--target", str(deep_target))
    bottom = deep_target / Path(*["d"] * (MAX_DEPTH - 1)) / "bottom"
    assert bottom.read_text() == "at the bottom\n"


@st.composite
def hostile_entries(draw: st.DrawFn, outside: str, depth: int = 0) -> list[dict[str, Any]]:
    """Entries of one folder: (recipes; the repository is filled in later)."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(NAMES) | st.binary(min_size=1, max_size=6))
        kind = draw(
            st.sampled_from(["file", "symlink", "hardlink", "dir"] if depth < 3 else ["file"])
        )
        if kind == "dir":
            out.append(
                {"kind": kind, "name": name, "children": draw(hostile_entries(outside, depth + 1))}
            )
        elif kind == "symlink":
            target = draw(
                st.sampled_from([outside, outside + "/victim", "../../outside", "/", ".."])
            )
            out.append({"kind": kind, "name": name, "target": target.encode()})
        else:
            out.append({"kind": kind, "name": name})
    return out


def build(repo: Any, entries: list[dict[str, Any]], outside_inode: int) -> list[dict[str, Any]]:
    nodes = []
    for e in entries:
        if e["kind"] == "dir":
            nodes.append(raw_dir(repo, e["name"], build(repo, e["children"], outside_inode)))
        elif e["kind"] == "symlink":
            nodes.append(raw_node(e["name"], "symlink", target=e["target"]))
        elif e["kind"] == "hardlink":  # claims to share an inode with the file outside
            f = raw_file(repo, e["name"], b"pwned\n")
            f.update(nlink=2, inode=outside_inode, dev=0)
            nodes.append(f)
        else:
            nodes.append(raw_file(repo, e["name"], b"pwned\n"))
    return nodes


@settings(
    max_examples=max(EXAMPLES // 3, 10),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_crafted_snapshot_never_writes_outside_the_target(
    cli: Cli, tmp_path: Path, outside: Path, data: st.DataObject
) -> None:
    before = listing(outside)
    entries = data.draw(hostile_entries(str(outside)), label="tree")
    twice = data.draw(
        st.booleans(), label="restore twice"
    )  # the second run meets the first's links
    with api_repo(cli) as repo:
        snap = hostile_snapshot(repo, build(repo, entries, (outside / "victim").stat().st_ino))
    target = tmp_path / f"t{abs(hash(repr(entries))) % 10**9}"
    for _ in range(2 if twice else 1):
        r = cli("restore", snap, "--target", str(target), "--json")
        assert TRACEBACK not in r.err and "unexpected error" not in r.err, r.err
        assert r.code in (0, 1, 3), r.err
    for args in (("ls", snap, "--json"), ("find", "victim", "--json")):
        r = cli(*args)
        assert TRACEBACK not in r.err and "unexpected error" not in r.err, r.err
    assert listing(outside) == before
    assert all(
        p.resolve().is_relative_to(target.resolve()) or p.is_symlink() for p in target.rglob("*")
    )
