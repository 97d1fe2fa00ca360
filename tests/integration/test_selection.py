"""What gets backed up and what gets restored, from the user's point of view.

Paths keep their absolute place: /home/me/work/a.txt restored to /tmp/back
lands at /tmp/back/home/me/work/a.txt. Backup selection (excludes, caches,
file system boundaries, several sources), snapshot choice (tags, hosts,
@DATE) and restore selection (paths, include, exclude) all run through the CLI.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.faults import WITHOUT_DAC_OVERRIDE, run_binary
from tests.trees import below, listed, make_files, restored, tree_state

CACHE_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n"
TREE = {
    "a.tmp": "",
    "keep.txt": "keep",
    "deep/er/b.tmp": "",
    "deep/er/c.txt": "c",
    "docs/manual.txt": "m",
    "sub/docs/notes.txt": "n",
    "sub/docs.txt": "not a directory",
    "other/docs": "a file named docs",
    "secret/key.txt": "anchored",
    "other/secret/key.txt": "same name elsewhere",
}


def backed_up(cli: Cli, root: Path, *args: str) -> set[str]:
    """Back `root` up with `args` and list what the snapshot holds below it."""
    cli.ok("backup", str(root), *args)
    return below(listed(cli), root)


def test_exclude_patterns_are_gitignore_style(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_files(root, TREE)
    anchored = str(root / "secret" / "key.txt")
    got = backed_up(cli, root, "--exclude", "*.tmp", "--exclude", "docs/", "--exclude", anchored)
    assert got == {
        "keep.txt",
        "deep",
        "deep/er",
        "deep/er/c.txt",
        "sub",
        "sub/docs.txt",
        "other",
        "other/docs",
        "other/secret",
        "other/secret/key.txt",
        "secret",
    }
    snap = cli.ok("snapshots", "--json").json[-1]
    assert snap["excludes"] == ["*.tmp", "docs/", anchored]


def test_exclude_negation_and_sources_named_on_the_command_line(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_files(root, {"a.tmp": "", "keep.tmp": "", "docs/manual.txt": "m", "docs/x.tmp": ""})
    got = backed_up(cli, root, "--exclude", "*.tmp", "--exclude", "!keep.tmp")
    assert got == {"keep.tmp", "docs", "docs/manual.txt"}
    cli.ok("backup", str(root / "a.tmp"), str(root / "docs"), "--exclude", "*.tmp")
    assert below(listed(cli), root) == {"a.tmp", "docs", "docs/manual.txt"}  # named: kept
    got = backed_up(
        cli, root, str(root / "docs" / "x.tmp"), "--exclude", "*.tmp", "--exclude", "docs/"
    )
    assert got == {"docs", "docs/x.tmp"}  # named inside another PATH: kept all the same


def test_exclude_file_reads_patterns_skipping_comments(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_files(root, TREE)
    patterns = tmp_path / "excludes"
    patterns.write_bytes(b"# build junk\n*.tmp\r\n\n  \nsub/")  # CRLF, no final newline
    got = backed_up(cli, root, "--exclude-file", str(patterns), "--exclude", "deep/")
    assert got == {
        "keep.txt",
        "docs",
        "docs/manual.txt",
        "other",
        "other/docs",
        "other/secret",
        "other/secret/key.txt",
        "secret",
        "secret/key.txt",
    }


def test_missing_exclude_file_is_a_usage_error(cli: Cli, src: Path, tmp_path: Path) -> None:
    r = cli("backup", str(src), "--exclude-file", str(tmp_path / "nope"))
    assert r.code == 2
    assert "nope" in r.err
    assert cli.ok("snapshots", "--json").json == []


def test_exclude_caches_needs_the_exact_signature(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_files(
        root,
        {
            "cache/CACHEDIR.TAG": CACHE_TAG,
            "cache/blob": "cached",
            "cache/sub/more": "cached",
            "fake/CACHEDIR.TAG": "Signature: not the right one\n",
            "fake/data": "kept",
            "plain.txt": "kept",
        },
    )
    everything = {
        "cache",
        "cache/CACHEDIR.TAG",
        "cache/blob",
        "cache/sub",
        "cache/sub/more",
        "fake",
        "fake/CACHEDIR.TAG",
        "fake/data",
        "plain.txt",
    }
    assert backed_up(cli, root) == everything
    without = everything - {"cache/blob", "cache/sub", "cache/sub/more"}
    assert backed_up(cli, root, "--exclude-caches") == without


def test_one_file_system_stops_at_a_mount_point(cli: Cli, src: Path) -> None:
    mnt = src / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        make_files(mnt, {"other-fs.txt": "on tmpfs", "sub/deeper.txt": "also"})
        assert "mnt/sub/deeper.txt" in backed_up(cli, src)
        got = backed_up(cli, src, "--one-file-system")
        assert "mnt" in got  # the mount point itself is kept, empty
        assert not {"mnt/other-fs.txt", "mnt/sub"} & got
        assert "docs/report.txt" in got
        # a mount named on the command line is backed up too (like `-x / /home`)
        got = backed_up(cli, src, str(mnt), "--one-file-system")
        assert {"docs/report.txt", "mnt/other-fs.txt", "mnt/sub/deeper.txt"} <= got
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_tag_host_and_time_are_recorded_and_filter(cli: Cli, src: Path) -> None:
    when = "2026-01-02T03:04:05.123456+00:00"
    args = ("--tag", "daily", "--tag", "db", "--host", "web1", "--time", when, "--json")
    first = cli.ok("backup", str(src), *args).json["snapshot_id"]
    second = cli.ok("backup", str(src), "--host", "web2", "--json").json["snapshot_id"]
    snaps = cli.ok("snapshots", "--json").json
    assert [s["id"] for s in snaps] == [first, second]
    assert (snaps[0]["host"], snaps[0]["tags"], snaps[0]["time"]) == ("web1", ["daily", "db"], when)
    assert [s["id"] for s in cli.ok("snapshots", "--host", "web2", "--json").json] == [second]
    assert [s["id"] for s in cli.ok("snapshots", "--tag", "db", "--json").json] == [first]
    assert cli.ok("snapshots", "--tag", "db", "--tag", "weekly", "--json").json == []
    assert snaps[1]["parent"] is None  # another host's snapshot is not a parent
    third = cli.ok("backup", str(src), "--host", "web1", "--json").json
    assert third["parent"] == first


def test_bad_time_is_a_usage_error(cli: Cli, src: Path) -> None:
    r = cli("backup", str(src), "--time", "yesterday-ish")
    assert r.code == 2
    assert "ISO 8601" in r.err


def test_restore_at_date_picks_newest_snapshot_of_that_day(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    versions = {
        "2026-03-01T12:00:00": "march 1st",
        "2026-03-02T00:30:00": "early on the 2nd",
        "2026-03-02T23:59:00": "late on the 2nd",
        "2026-03-04T08:00:00": "the 4th",
    }
    for when, text in versions.items():
        (src / "a.txt").write_text(text)
        cli.ok("backup", str(src), "--time", when)
    for spec, text in {
        "@2026-03-01": "march 1st",
        "@2026-03-02": "late on the 2nd",
        "@20260302": "late on the 2nd",
        "@2026-03-03": "late on the 2nd",
        "@2026-03-02T12:00": "early on the 2nd",
        "@2030-01-01": "the 4th",
    }.items():
        target = tmp_path / spec
        cli.ok("restore", spec, str(src / "a.txt"), "--target", str(target))
        assert restored(target, src / "a.txt").read_text() == text, spec
    r = cli("restore", "@2026-02-28", "--target", str(tmp_path / "none"))
    assert r.code != 0
    assert "2026-02-28" in r.err


def test_ls_lists_a_path_and_everything_below_it(cli: Cli, src: Path) -> None:
    os.symlink("a.txt", src / "link")
    os.chown(src / "a.txt", 1234, 5678)
    os.chmod(src / "a.txt", 0o4750)
    cli.ok("backup", str(src))
    nodes = {n["path"]: n for n in cli.ok("ls", "latest", str(src), "--json").json["nodes"]}
    a, link = nodes[str(src / "a.txt")], nodes[str(src / "link")]
    assert (a["type"], a["mode"], a["size"], a["uid"], a["gid"]) == ("file", "4750", 12, 1234, 5678)
    assert (link["type"], link["target"]) == ("symlink", "a.txt")
    long = cli.ok("ls", "-l", "latest", str(src / "a.txt")).out
    assert long.startswith("-rwsr-x---") and "1234" in long and "5678" in long
    assert below(listed(cli, "latest", str(src / "docs")), src) == {
        "docs",
        "docs/report.txt",
        "docs/deep",
        "docs/deep/er",
        "docs/deep/er/bin.dat",
    }
    assert listed(cli, "latest", str(src / "a.txt")) == {str(src / "a.txt")}
    everything = listed(cli)
    assert str(src / "zero") in everything
    assert str(src.parent) in everything  # the directories above a source are there too
    r = cli("ls", "latest", str(src / "nope"))
    assert r.code != 0
    assert "not in the snapshot" in r.err


def test_restore_several_paths_keeps_their_places(cli: Cli, src: Path, tmp_path: Path) -> None:
    os.utime(src, ns=(0, 1_234_567_890_123_456_789))
    before = tree_state(src)
    cli.ok("backup", str(src))
    target = tmp_path / "back"
    cli.ok("restore", "latest", str(src / "docs" / "deep"), str(src / "a.txt"), "-t", str(target))
    out = restored(target, src)
    assert (out / "a.txt").read_text() == "hello world\n"
    assert (out / "docs" / "deep" / "er" / "bin.dat").read_bytes() == (
        src / "docs" / "deep" / "er" / "bin.dat"
    ).read_bytes()
    assert not (out / "docs" / "report.txt").exists()
    assert not (out / "zero").exists()
    assert not (out / "empty").exists()
    # the directories above restored paths get their snapshot metadata too
    assert os.lstat(out).st_mtime_ns == before.entries["."].mtime_ns
    assert os.lstat(out / "docs").st_mtime_ns == before.entries["docs"].mtime_ns
    missing = cli("restore", "latest", str(src / "nope"), "--target", str(target))
    assert missing.code != 0
    assert "not in the snapshot" in missing.err


def test_restore_include_and_exclude(cli: Cli, src: Path, tmp_path: Path) -> None:
    cli.ok("backup", str(src))
    inc = tmp_path / "inc"
    cli.ok("restore", "latest", "--target", str(inc), "--include", "*.txt")
    got = {str(p.relative_to(inc)) for p in inc.rglob("*") if not p.is_dir()}
    rel = src.relative_to("/")
    assert got == {f"{rel}/a.txt", f"{rel}/docs/report.txt"}
    assert not restored(inc, src / "empty").exists()

    exc = tmp_path / "exc"
    cli.ok("restore", "latest", "--target", str(exc), "--exclude", "deep/", "--exclude", "zero")
    out = restored(exc, src)
    assert (out / "docs" / "report.txt").exists() and (out / "empty").is_dir()
    assert not (out / "docs" / "deep").exists()
    assert not (out / "zero").exists()


def test_restore_replaces_older_versions_in_the_target(cli: Cli, src: Path, tmp_path: Path) -> None:
    old = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    (src / "a.txt").write_text("version two, longer than the first one\n")
    (src / "zero").write_text("no longer empty")
    os.chmod(src / "a.txt", 0o640)
    cli.ok("backup", str(src))
    target = tmp_path / "back"
    cli.ok("restore", old, "--target", str(target))
    out = restored(target, src)
    assert (out / "a.txt").read_text() == "hello world\n"
    victim = tmp_path / "victim"
    victim.write_text("must not be written through")
    (out / "zero").unlink()
    (out / "zero").symlink_to(victim)

    cli.ok("restore", "latest", "--target", str(target))
    assert (out / "a.txt").read_text() == "version two, longer than the first one\n"
    assert stat.S_IMODE(os.lstat(out / "a.txt").st_mode) == 0o640
    assert not (out / "zero").is_symlink()
    assert (out / "zero").read_text() == "no longer empty"
    assert victim.read_text() == "must not be written through"

    cli.ok("restore", old, "--target", str(target))  # and back again
    assert (out / "a.txt").read_text() == "hello world\n"
    assert (out / "zero").read_bytes() == b""


def test_restore_never_descends_through_a_symlink_in_the_target(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    cli.ok("backup", str(src))
    outside = tmp_path / "outside"
    outside.mkdir()
    out = restored(tmp_path / "back", src)
    out.mkdir(parents=True)
    (out / "docs").symlink_to(outside)  # where the snapshot has a directory
    r = cli("restore", "latest", "--target", str(tmp_path / "back"))
    assert r.code != 0
    assert "docs" in r.err
    assert list(outside.iterdir()) == []
    assert (out / "docs").is_symlink()


def only(path: Path) -> list[str]:
    """Exclude patterns that leave out everything on the file system except `path`."""
    patterns, above = ["/*"], Path("/")
    for part in path.relative_to("/").parts:
        above = above / part
        patterns += [f"!{above}/", f"{above}/*"]
    return patterns[:-1]


def test_the_file_system_root_can_be_a_source(cli: Cli, src: Path, tmp_path: Path) -> None:
    excludes = [arg for p in only(src) for arg in ("--exclude", p)]
    snap = cli.ok("backup", "/", "--one-file-system", *excludes, "--json").json
    assert snap["files_new"] == 4
    assert cli.ok("snapshots", "--json").json[0]["paths"] == ["/"]
    assert str(src / "docs" / "report.txt") in listed(cli)
    target = tmp_path / "back"
    cli.ok("restore", "latest", "--target", str(target))
    assert restored(target, src / "a.txt").read_text() == "hello world\n"
    again = cli.ok("backup", "/", "-x", *excludes, "--json").json
    assert again["files_unchanged"] == 4


def test_two_sources_at_once(cli: Cli, tmp_path: Path) -> None:
    x, y = tmp_path / "a" / "x", tmp_path / "b" / "y"
    make_files(x, {"one.txt": "1"})
    make_files(y, {"two.txt": "2"})
    (tmp_path / "a" / "beside-x.txt").write_text("not a source")
    snap = cli.ok("backup", str(x), str(y), "--json").json
    assert snap["files_new"] == 2
    assert sorted(cli.ok("snapshots", "--json").json[0]["paths"]) == [str(x), str(y)]
    target = tmp_path / "back"
    cli.ok("restore", "latest", "--target", str(target))
    assert restored(target, x / "one.txt").read_text() == "1"
    assert restored(target, y / "two.txt").read_text() == "2"
    assert not restored(target, tmp_path / "a" / "beside-x.txt").exists()


def test_source_reached_through_a_symlinked_directory(cli: Cli, tmp_path: Path) -> None:
    """The user named /…/link/work: it is saved, and restored, under that path."""
    make_files(tmp_path / "real", {"work/a.txt": "through the link"})
    (tmp_path / "link").symlink_to("real")
    cli.ok("backup", str(tmp_path / "link" / "work"))
    target = tmp_path / "back"
    cli.ok("restore", "latest", "--target", str(target))
    assert restored(target, tmp_path / "link" / "work" / "a.txt").read_text() == "through the link"
    assert restored(target, tmp_path / "link").is_dir()
    assert not restored(target, tmp_path / "real").exists()


def test_source_nested_in_another_is_saved_once(cli: Cli, src: Path, tmp_path: Path) -> None:
    sibling = tmp_path / "src-2"  # shares a prefix with src but is not inside it
    make_files(sibling, {"b.txt": "b"})
    args = (str(src / "docs"), str(src), str(src) + "/", str(sibling), "--json")
    snap = cli.ok("backup", *args).json
    assert snap["files_new"] == 5
    assert cli.ok("snapshots", "--json").json[0]["paths"] == [str(src), str(sibling)]


def test_relative_sources_and_single_files_keep_their_absolute_place(
    cli: Cli, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(src / "docs")
    cli.ok("backup", "deep", "../a.txt")
    assert cli.ok("snapshots", "--json").json[0]["paths"] == [
        str(src / "a.txt"),
        str(src / "docs" / "deep"),
    ]
    target = tmp_path / "back"
    cli.ok("restore", "latest", "--target", str(target))
    assert restored(target, src / "a.txt").read_text() == "hello world\n"
    assert restored(target, src / "docs" / "deep" / "er" / "bin.dat").exists()
    assert not restored(target, src / "docs" / "report.txt").exists()


def test_missing_source_exits_3_and_saves_the_others(cli: Cli, src: Path, tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    r = cli("backup", str(src), str(missing), "--json")
    assert r.code == 3
    assert r.json["error_list"] == [{"path": str(missing), "error": "No such file or directory"}]
    assert str(src / "a.txt") in listed(cli)
    human = cli("backup", str(missing), str(src))
    assert human.code == 3
    assert str(missing) in human.err


def test_only_missing_sources_save_nothing(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    r = cli("backup", str(missing))
    assert r.code == 1
    assert str(missing) in r.err
    assert cli.ok("snapshots", "--json").json == []


def test_default_repository_is_created_and_reused(cli: Cli, src: Path, tmp_path: Path) -> None:
    data, config = tmp_path / "[my data]", tmp_path / "conf [bold]"  # not rich markup
    cli.env.update(RIPCORD_DATA_DIR=str(data), RIPCORD_CONFIG_DIR=str(config))
    first = cli("backup", str(src), repo=False)
    assert first.code == 0, first.err
    repo_dir = next(p.parent for p in data.rglob("config"))
    key_files = [p for p in config.rglob("*") if p.is_file()]
    assert len(key_files) == 1
    assert stat.S_IMODE(os.lstat(key_files[0]).st_mode) == 0o600
    assert str(repo_dir) in first.err and str(key_files[0]) in first.err  # whole, unwrapped

    second = cli("backup", str(src), "--json", repo=False)
    assert second.code == 0, second.err
    assert second.json["files_unchanged"] == 4
    assert str(repo_dir) not in second.err  # created only once
    assert len(cli.ok("snapshots", "--json", repo=False).json) == 2
    assert cli.ok("snapshots", "--json").json == []  # -r still means the other repository
    target = tmp_path / "back"
    cli.ok("restore", "latest", "--target", str(target), repo=False)
    assert restored(target, src / "a.txt").read_text() == "hello world\n"


def test_default_key_left_by_an_interrupted_first_run_is_reused(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    """A key file without a repository yet (first run stopped half way) opens the new one."""
    key_file = Path(cli.env["RIPCORD_CONFIG_DIR"]) / "default-repo.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("left over\n")
    key_file.chmod(0o600)
    cli.ok("backup", str(src), repo=False)
    assert key_file.read_text() == "left over\n"
    assert len(cli.ok("snapshots", "--json", repo=False).json) == 1


def test_no_repository_and_no_default_exits_10(cli: Cli) -> None:
    r = cli("snapshots", repo=False)
    assert r.code == 10
    assert "no repository" in r.err
    assert not Path(cli.env["RIPCORD_DATA_DIR"]).exists()


def test_several_paths_inside_a_read_only_folder_all_restore(cli: Cli, tmp_path: Path) -> None:
    """The folder's read-only mode is applied once every path is in, not after the first
    (as a user, not root: run without the capability that lets root write anywhere)."""
    src = tmp_path / "src"
    ro = src / "ro"
    ro.mkdir(parents=True)
    for name in ("a.txt", "b.txt"):
        (ro / name).write_text(name)
    ro.chmod(0o555)
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    out = tmp_path / "out"
    r = run_binary(
        cli,
        "restore",
        snap,
        str(ro / "a.txt"),
        str(ro / "b.txt"),
        "--target",
        str(out),
        wrapper=WITHOUT_DAC_OVERRIDE,
    )
    assert r.code == 0, r.err
    back = out / ro.relative_to("/")
    assert sorted(p.name for p in back.iterdir()) == ["a.txt", "b.txt"]
    assert stat.S_IMODE(back.stat().st_mode) == 0o555
