"""`ripcord copy` through the CLI, into real stores: a local directory, S3 with Object
Lock on a real SeaweedFS, SFTP on a real sshd; and a copy killed with SIGKILL midway."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli, UrlCli
from tests.faults import assert_clean_failure, kill_when, random_files, stored_names
from tests.s3server import S3Server, s3_server  # noqa: F401 (the fixture)
from tests.sshserver import SshServer, sshd_fixture  # noqa: F401 (the fixture)
from tests.trees import assert_same, restored, tree_state

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
TARGET_PASSWORD = "a different password for the copy"


def source_cli(tmp_path: Path, cli_env: dict[str, str]) -> Cli:
    """A local source repository; its runner also knows the target's password."""
    cli = Cli(tmp_path / "repo", {**cli_env, "RIPCORD_TO_PASSWORD": TARGET_PASSWORD})
    cli.ok("init", *FAST)
    return cli


def replica_of(source: Cli, target: Cli) -> Cli:
    """`target` initialised with `init --copy-params-from` the source."""
    target.ok(
        "init",
        "--copy-params-from",
        str(source.repo),
        *FAST,
        env={"RIPCORD_FROM_PASSWORD": source.env["RIPCORD_PASSWORD"]},
    )
    return target


def two_backups(cli: Cli, src: Path) -> list[str]:
    cli.ok("backup", str(src), "--tag", "first")
    (src / "docs" / "later.txt").write_text("written between the backups\n")
    cli.ok("backup", str(src))
    return [s["id"] for s in cli.ok("snapshots", "--json").json]


def assert_copied_whole(target: Cli, src: Path, out: Path) -> None:
    """The target checks clean reading every byte, and its latest snapshot restores `src`."""
    before = tree_state(src)
    target.ok("check", "--read-data")
    target.ok("restore", "latest", "--target", str(out))
    assert_same(before, tree_state(restored(out, src)))


def test_copy_to_s3_with_object_lock_then_check_and_restore_from_there(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    tmp_path: Path,
    cli_env: dict[str, str],
    src: Path,
) -> None:
    source = source_cli(tmp_path, cli_env)
    url = s3_server.url(s3_server.new_bucket(object_lock=True))
    target = UrlCli(url, {**cli_env, **s3_server.env(), "RIPCORD_PASSWORD": TARGET_PASSWORD})
    target.ok(
        "init",
        "--copy-params-from",
        str(source.repo),
        "--object-lock",
        "governance",
        "--retention",
        "1d",
        *FAST,
        env={"RIPCORD_FROM_PASSWORD": source.env["RIPCORD_PASSWORD"]},
    )
    ids = two_backups(source, src)
    done = source.ok("copy", "--to", url, "--json").json
    assert [c["snapshot"] for c in done["copied"]] == ids
    assert done["skipped"] == [] and done["bytes_copied"] > 600_000
    copies = {s["id"]: s for s in target.ok("snapshots", "--json").json}
    assert {c["copy"] for c in done["copied"]} == set(copies)
    assert {s["origin"] for s in copies.values()} == set(ids)
    assert_copied_whole(target, src, tmp_path / "out")
    again = source.ok("copy", "--to", url, "--json").json
    assert again["copied"] == [] and again["skipped"] == ids and again["bytes_copied"] == 0


def test_copy_to_sftp_then_check_and_restore_from_there(
    sshd: SshServer,
    tmp_path: Path,
    cli_env: dict[str, str],
    src: Path,
) -> None:
    source = source_cli(tmp_path, cli_env)
    url = sshd.url(tmp_path / "over-sftp")
    target = UrlCli(url, {**cli_env, "RIPCORD_PASSWORD": TARGET_PASSWORD})
    target.ok(
        "init",
        "--copy-params-from",
        str(source.repo),
        *FAST,
        env={"RIPCORD_FROM_PASSWORD": source.env["RIPCORD_PASSWORD"]},
    )
    ids = two_backups(source, src)
    done = source.ok("copy", "--to", url, "--json").json
    assert [c["snapshot"] for c in done["copied"]] == ids
    assert_copied_whole(target, src, tmp_path / "out")


def test_copy_of_named_snapshots_says_what_it_did(
    tmp_path: Path, cli_env: dict[str, str], src: Path
) -> None:
    source = source_cli(tmp_path, cli_env)
    target = replica_of(source, Cli(tmp_path / "copy", {**cli_env, "RIPCORD_PASSWORD": "x"}))
    first, second = two_backups(source, src)
    # --from instead of -r, the password of --to from a file
    (tmp_path / "to.pass").write_text("x\n")
    args = ["--to", str(target.repo), "--to-password-file", str(tmp_path / "to.pass")]
    del source.env["RIPCORD_TO_PASSWORD"]
    said = source.ok("copy", "--from", str(source.repo), *args, first[:8], repo=False)
    assert f"copied  {first[:12]} -> " in said.out
    assert "1 snapshots copied" in said.out and "0 skipped" in said.out
    said = source.ok("copy", *args, "latest", first[:8])
    assert f"copied  {second[:12]} -> " in said.out
    assert f"skipped {first[:12]} (the target holds it)" in said.out
    tags = {s["origin"]: s["tags"] for s in target.ok("snapshots", "--json").json}
    assert tags == {first: ["first"], second: []}


def test_copy_is_refused_clearly(tmp_path: Path, cli_env: dict[str, str], src: Path) -> None:
    source = source_cli(tmp_path, cli_env)
    source.ok("backup", str(src))
    stranger = Cli(tmp_path / "stranger", {**cli_env, "RIPCORD_PASSWORD": TARGET_PASSWORD})
    stranger.ok("init", *FAST)  # its own chunk ids
    r = source("copy", "--to", str(stranger.repo))
    assert_clean_failure(r, "--copy-params-from", code=2)
    assert stranger.ok("snapshots", "--json").json == []
    r = source("copy", "--to", str(tmp_path / "nothing"))
    assert_clean_failure(r, "no repository at", "(the target)", code=10)
    r = source("copy", "--to", str(stranger.repo), env={"RIPCORD_TO_PASSWORD": "wrong"})
    assert_clean_failure(r, "wrong password for the target", code=12)
    r = source("copy", "--to", str(stranger.repo), "no-such-id")
    assert_clean_failure(r, "not a snapshot id", code=2)
    assert_clean_failure(source("copy"), "--to", code=2)


def test_a_copy_killed_midway_finishes_when_run_again(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    source = source_cli(tmp_path, cli_env)
    target = replica_of(
        source, Cli(tmp_path / "copy", {**cli_env, "RIPCORD_PASSWORD": TARGET_PASSWORD})
    )
    data = random_files(tmp_path / "data", 48, 1 << 20)  # six packs and more
    source.ok("backup", str(data))
    packs = target.repo / "data"

    def stored() -> int:
        return sum(1 for p in packs.rglob("*") if p.is_file())

    kill_when(source, ["copy", "--to", str(target.repo)], lambda: stored() >= 2)
    assert stored_names(target, "snapshots") == set()  # nothing points at nothing
    done = source.ok("copy", "--to", str(target.repo), "--json").json
    assert len(done["copied"]) == 1
    checked = target.ok("check", "--read-data", "--json").json
    assert checked["ok"] and checked["errors"] == [], checked
    before = tree_state(data)
    target.ok("restore", "latest", "--target", str(tmp_path / "out"))
    assert_same(before, tree_state(restored(tmp_path / "out", data)))


def test_the_target_password_can_come_from_a_command(
    tmp_path: Path, cli_env: dict[str, str], src: Path
) -> None:
    source = source_cli(tmp_path, cli_env)
    target = replica_of(source, Cli(tmp_path / "copy", {**cli_env, "RIPCORD_PASSWORD": "y"}))
    source.ok("backup", str(src))
    del source.env["RIPCORD_TO_PASSWORD"]
    done = source.ok(
        "copy", "--to", str(target.repo), "--to-password-command", "echo y", "--json"
    ).json
    assert len(done["copied"]) == 1
