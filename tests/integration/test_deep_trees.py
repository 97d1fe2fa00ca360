"""Folders nested a thousand deep, through every command that walks trees.

A real source 1000 folders deep backs up, lists, searches, diffs, restores
byte-identical, checks, drills, copies, prunes and passes the guard; a source
deeper than MAX_DEPTH is backed up down to the limit, naming the folder it
stopped at; and a crafted snapshot nested past the limit is refused cleanly by
every command that follows paths (never a RecursionError), while those that walk
trees by id alone (copy, prune) carry it like any other, and check reports it.

Python's os.walk, Path.rglob and shutil.rmtree recurse per level, so these tests
walk their trees with a loop of their own and keep them on a tmpfs, unmounted after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ripcord.archive.trees import MAX_DEPTH, depth
from ripcord.errors import EXIT_DAMAGED, EXIT_PARTIAL
from tests.conftest import Cli
from tests.faults import (
    TRACEBACK,
    assert_clean_failure,
    nested_snapshot,
    run_binary,
    small_tmpfs,
)
from tests.trees import TreeState, assert_same, entry_of, restored

LEVELS = 1000
FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
TOO_DEEP = f"deeper than {MAX_DEPTH} levels"


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs for the deep trees: folders come and go fast, and unmounting leaves
    nothing deep behind for pytest, whose clean-up (shutil.rmtree) recurses per level."""
    with small_tmpfs(tmp_path / "fs", "256m") as path:
        yield path


def nest(root: Path, levels: int) -> Path:
    """`levels` folders named d below `root`, every 100th and the deepest holding a small
    file f; returns the deepest."""
    here = root
    for i in range(1, levels + 1):
        here = here / "d"
        here.mkdir(parents=True)
        if i % 100 == 0 or i == levels:
            (here / "f").write_text(f"level {i}\n")
    return here


def picture(root: Path) -> TreeState:
    """Every entry below `root` by relative path (mode, times, content digest), from a
    loop rather than os.walk (no hard links here)."""
    out, stack = {}, [root]
    while stack:
        d = stack.pop()
        for e in os.scandir(d):
            p = Path(e.path)
            out[str(p.relative_to(root))] = entry_of(p)
            if e.is_dir(follow_symlinks=False):
                stack.append(p)
    return TreeState(out, set())


def assert_restored(target: Path, src: Path) -> None:
    assert_same(picture(restored(target, src)), picture(src))


def copied(cli: Cli, replica: Cli) -> Cli:
    """`replica`, made with the same chunker parameters, after `ripcord copy` into it."""
    password = cli.env["RIPCORD_PASSWORD"]
    replica.ok("init", "--copy-params-from", str(cli.repo), *FAST,
               env={"RIPCORD_FROM_PASSWORD": password})  # fmt: skip
    cli.ok("copy", "--to", str(replica.repo), env={"RIPCORD_TO_PASSWORD": password})
    return replica


def test_a_source_1000_deep_goes_through_every_command(
    cli: Cli, fs: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    src = fs / "src"
    bottom = nest(src, LEVELS)
    assert depth(os.fsencode(bottom / "f")) <= MAX_DEPTH
    first = cli.ok("backup", str(src), "--json").json
    assert first["dirs"] == LEVELS + 1 and first["errors"] == 0
    (bottom / "f").write_text("changed at the bottom\n")
    (bottom / "new").write_text("added at the bottom\n")
    second = cli.ok("backup", str(src), "--json").json
    assert second["guard"]["verdict"] == "ok"
    a, b = first["snapshot_id"], second["snapshot_id"]

    listed = [n["path"] for n in cli.ok("ls", b, "--json").json["nodes"]]
    above = depth(os.fsencode(src))  # the folders down to src, src included
    assert len(listed) == above + LEVELS + LEVELS // 100 + 1 and str(bottom / "new") in listed
    found = cli.ok("find", "new", "--json").json
    assert [m["path"] for s in found["snapshots"] for m in s["matches"]] == [str(bottom / "new")]
    changes = {(c["path"], c["kind"]) for c in cli.ok("diff", a, b, "--json").json["changes"]}
    assert (str(bottom / "f"), "modified") in changes and (str(bottom / "new"), "added") in changes
    versions = cli.ok("history", str(bottom / "f"), "--json").json
    assert len(versions[0]["events"]) == 2

    # each folder on the way down stays open until its entries are in: past the usual
    # soft limit of 1024 open files, which restore raises to the hard one as Go does
    r = run_binary(
        cli, "restore", b, "--target", str(fs / "out"),
        wrapper=["prlimit", "--nofile=512:", "--"],
    )  # fmt: skip
    assert r.code == 0, r.err
    assert_restored(fs / "out", src)

    cli.ok("check", "--read-data")
    drilled = cli.ok("drill", "--sample", "5", "--snapshot", b, "--scratch", str(fs), "--json").json
    assert drilled["result"] == "pass" and drilled["files"] == 5
    cli.ok("guard", "check", b)
    copied(cli, Cli(tmp_path / "replica", cli_env)).ok("check", "--read-data")
    cli.ok("forget", a)
    cli.ok("prune")
    cli.ok("check", "--read-data")


def test_a_source_deeper_than_the_limit_is_backed_up_down_to_it(cli: Cli, fs: Path) -> None:
    src = fs / "src"
    nest(src, MAX_DEPTH + 5 - depth(os.fsencode(src)))
    last = src
    while depth(os.fsencode(last)) < MAX_DEPTH:
        last = last / "d"
    r = cli("backup", str(src), "--json")
    assert r.code == EXIT_PARTIAL and TRACEBACK not in r.err
    errors = r.json["error_list"]
    assert [e["path"] for e in errors] == [str(last)]
    assert TOO_DEEP in errors[0]["error"]
    cli.ok("restore", "latest", "--target", str(fs / "out"))
    cut = str(last.relative_to(src)) + "/"  # the folder at the limit comes back empty
    kept = {p: e for p, e in picture(src).entries.items() if not p.startswith(cut)}
    assert_same(picture(restored(fs / "out", src)), TreeState(kept, set()))
    cli.ok("check", "--read-data")
    cli.ok("drill", "--sample", "3", "--scratch", str(fs))


def test_a_source_given_deeper_than_the_limit_is_refused_by_name(cli: Cli, fs: Path) -> None:
    deepest = nest(fs / "src", MAX_DEPTH + 2 - depth(os.fsencode(fs / "src")))
    r = cli("backup", str(deepest))
    assert_clean_failure(r, str(deepest), TOO_DEEP)


def test_a_crafted_snapshot_past_the_limit_is_refused_by_every_path_walk(
    cli: Cli, fs: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    shallow = nested_snapshot(cli, 3)
    deep = nested_snapshot(cli, MAX_DEPTH + 1)
    deepest = "/" + "/".join(["d"] * (MAX_DEPTH + 1)) + "/bottom"
    for args in (
        ("ls", deep),
        ("find", "bottom"),
        ("diff", shallow, deep),
        ("history", deepest),
        ("guard", "check", deep),
    ):
        assert_clean_failure(cli(*args), TOO_DEEP)
    r = cli("restore", deep, "--target", str(fs / "out"), "--json")
    assert r.code == EXIT_PARTIAL and TRACEBACK not in r.err + r.out and TOO_DEEP in r.out
    drilled = cli("drill", "--snapshot", deep, "--scratch", str(fs), "--json")
    assert drilled.code != 0 and TRACEBACK not in drilled.err
    assert any(TOO_DEEP in f["reason"] for f in drilled.json["failures"])
    # walks by tree id carry it (no stack to run out of); check names it unrestorable
    for repo in (cli, copied(cli, Cli(tmp_path / "replica", cli_env))):
        r = repo("check", "--read-data", "--json")
        assert r.code == EXIT_DAMAGED and [e["kind"] for e in r.json["errors"]] == ["too-deep"]
    assert r.json["errors"][0]["affected"] == 1
    assert cli("check", "--json").json["errors"][0]["snapshots"] == [deep]
    cli.ok("forget", deep)
    cli.ok("prune")
    cli.ok("check")
