"""Commands beyond backup and restore: keys, shared parameters, cat, passwords,
interruption, and the snapshot chain."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from rich.console import Console

from ripcord.cli.progress import RichProgress
from tests.conftest import PASSWORD, Cli
from tests.faults import api_repo, backup_until_packs_exist, node_at, random_files, run_binary

FILES = ("a.txt", "docs/report.txt", "docs/deep/er/bin.dat")
CHEAP = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")


def test_key_add_list_passwd_remove(cli: Cli, src: Path) -> None:
    cli.ok("key", "add", *CHEAP, env={"RIPCORD_NEW_PASSWORD": "second"})
    keys = cli.ok("key", "list", "--json").json
    assert len(keys) == 2
    assert [k["current"] for k in keys].count(True) == 1
    cli.ok("backup", str(src), env={"RIPCORD_PASSWORD": "second"})
    cli.ok("key", "passwd", *CHEAP, env={"RIPCORD_NEW_PASSWORD": "third"})
    assert cli("snapshots", env={"RIPCORD_PASSWORD": PASSWORD}).code == 12  # old one is gone
    assert cli.ok("snapshots", "--json", env={"RIPCORD_PASSWORD": "third"}).json
    second = next(
        k["id"]
        for k in cli.ok("key", "list", "--json", env={"RIPCORD_PASSWORD": "third"}).json
        if not k["current"]
    )
    cli.ok("key", "remove", second[:10], env={"RIPCORD_PASSWORD": "third"})
    assert cli("snapshots", env={"RIPCORD_PASSWORD": "second"}).code == 12
    current = cli.ok("key", "list", "--json", env={"RIPCORD_PASSWORD": "third"}).json[0]["id"]
    refused = cli("key", "remove", current, env={"RIPCORD_PASSWORD": "third"})
    assert refused.code == 1
    assert "refusing" in refused.err


def test_copy_params_from_shares_chunk_ids(cli: Cli, src: Path, tmp_path: Path) -> None:
    other = Cli(tmp_path / "replica", {**cli.env, "RIPCORD_FROM_PASSWORD": PASSWORD})
    other.ok("init", *CHEAP, "--copy-params-from", str(cli.repo))
    unrelated = Cli(tmp_path / "unrelated", cli.env)
    unrelated.ok("init", *CHEAP)
    for c in (cli, other, unrelated):
        c.ok("backup", str(src))
    ids = {}
    for c in (cli, other, unrelated):
        with api_repo(c) as repo:
            snap = repo.snapshots()[-1].id
            ids[c.repo.name] = [node_at(repo, snap, src / f).content for f in FILES]
            key = repo.key
    assert ids["repo"] == ids["replica"]  # same chunking and ids: blobs copy as they are
    assert ids["repo"] != ids["unrelated"]
    with api_repo(other) as repo:
        assert repo.key != key  # each repository still has its own encryption key


def test_cat_shows_config_snapshot_tree_and_index(cli: Cli, src: Path) -> None:
    cli.ok("backup", str(src))
    config = cli.ok("cat", "config").json
    assert config["version"] == 1
    snap = cli.ok("cat", "snapshot", "latest").json
    assert snap["paths"] == [str(src)]
    root = cli.ok("cat", "tree", snap["tree"]).json
    assert [n["name"] for n in root["nodes"]] == [src.parts[1]]
    index_id = next((cli.repo / "index").iterdir()).name
    index = cli.ok("cat", "index", index_id[:8]).json
    assert index["packs"] and all(len(p["id"]) == 64 for p in index["packs"])
    assert cli("cat", "tree").code == 2


def test_password_file_and_command(cli: Cli, src: Path, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    without = {"RIPCORD_PASSWORD": ""}
    del_env = ("RIPCORD_PASSWORD",)
    r = run_binary(cli, "--password-file", str(pw), "snapshots", "--json", without=del_env)
    assert r.code == 0, r.err
    r = run_binary(cli, "--password-command", f"cat {pw}", "snapshots", without=del_env)
    assert r.code == 0, r.err
    r = run_binary(cli, "--password-command", "exit 4", "snapshots", without=del_env)
    assert r.code == 2
    assert "password command failed" in r.err
    assert cli("snapshots", env=without).code == 12  # an empty password is a wrong one


@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_interrupt_or_terminate_leaves_the_repository_usable(
    cli: Cli, src: Path, tmp_path: Path, sig: signal.Signals, code: int, word: str
) -> None:
    big = random_files(tmp_path / "big", 20, 8 << 20)
    proc = backup_until_packs_exist(cli, big)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code
    assert word in err
    assert "Traceback" not in err
    assert cli.ok("snapshots", "--json").json == []  # no snapshot of the half backup
    assert not list((cli.repo / "locks").iterdir())  # the lock was released
    cli.ok("backup", str(src))


def test_snapshots_form_a_chain(cli: Cli, src: Path) -> None:
    first = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    second = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    third = cli.ok("backup", str(src / "docs"), "--json").json["snapshot_id"]
    snaps = {s["id"]: s for s in cli.ok("snapshots", "--json").json}
    assert snaps[first]["chain"] == []
    assert snaps[second]["chain"] == [first]
    assert snaps[third]["chain"] == [second]
    assert snaps[third]["parent"] is None  # other paths: nothing to reuse


def test_progress_renders_on_a_terminal() -> None:
    console = Console(force_terminal=True, width=100, record=True)
    p = RichProgress(console)
    p.start(None)
    p.item("/srv/office/report.txt")
    p.advance(5 << 20)
    p.bar.refresh()
    p.finish()
    assert "report.txt" in console.export_text()


def test_cat_tree_shows_names_as_text_and_ids_as_hex(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "names"
    src.mkdir()
    name = "n" * 32  # as long as a blob id: still a name
    (src / name).write_text("x")
    cli.ok("backup", str(src))
    with api_repo(cli) as repo:
        tree = node_at(repo, repo.snapshots()[-1].id, src).subtree
    assert tree is not None
    (node,) = cli.ok("cat", "tree", tree.hex()).json["nodes"]
    assert node["name"] == name
    assert len(node["hash"]) == 64 and all(c in "0123456789abcdef" for c in node["hash"])


def test_stats_compression_counts_data_frames_only(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "text"
    src.mkdir()
    for i in range(200):  # many small, very compressible files: trees weigh a lot
        (src / f"{i}.txt").write_text("the same line again\n" * 200)
    cli.ok("backup", str(src))
    stats = cli.ok("stats", "--json").json
    assert stats["data_stored_bytes"] < stats["pack_bytes"]
    assert stats["compression_ratio"] == round(
        stats["unique_bytes"] / stats["data_stored_bytes"], 3
    )
