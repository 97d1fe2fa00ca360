"""`ripcord serve` and rest+http(s):// against a real server process.

The Store contract itself runs against it in tests/contract/. Here: the CLI
over HTTP and HTTPS, users and tokens, confinement to one's own repository,
path traversal, the size limit, an unreachable server, a server killed in
the middle of a backup, and the immutability proof of --append-only.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from ripcord.errors import StoreError
from ripcord.storage import ObjectExists
from ripcord.storage.rest import RestStore
from tests.conftest import Cli, UrlCli
from tests.restserver import RestServer, rest_server, running_rest_server  # noqa: F401
from tests.trees import assert_round_trip, assert_same, restored, tree_state

FAST_INIT = ("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RestServer]:
    with running_rest_server(tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def append_only() -> Iterator[RestServer]:
    with running_rest_server("--append-only") as server:
        yield server


def _user(server: RestServer, name: str) -> tuple[str, str]:
    """A fresh user named after `name` (unique per call): (user, token)."""
    user = f"{name}-{os.urandom(3).hex()}"
    return user, server.add_user(user)


def _raw(server: RestServer, user: str, token: str) -> httpx.Client:
    verify = str(server.cacert) if server.cacert else True
    return httpx.Client(base_url=server.endpoint, auth=(user, token), verify=verify)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_init_backup_restore_and_check_over_rest(
    scheme: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    cli_env: dict[str, str],
    src: Path,
) -> None:
    server: RestServer = request.getfixturevalue(
        "rest_server" if scheme == "http" else "tls_server"
    )
    user, token = _user(server, "laptop")
    cli = UrlCli(server.url(user, token), cli_env)
    cli.ok(*FAST_INIT)
    assert (server.root / user / "config").is_file()
    assert_round_trip(cli, src, tmp_path / "out")
    cli.ok("check", "--read-data")
    assert cli("init").code == 1  # a repository is already there
    assert token not in server.log.read_text()  # requests are logged, tokens never


def test_https_with_an_untrusted_certificate_is_refused(
    tls_server: RestServer, cli_env: dict[str, str]
) -> None:
    user, token = _user(tls_server, "laptop")
    url = tls_server.url(user, token).split("?")[0]  # without ?cacert=
    refused = UrlCli(url, cli_env)("snapshots")
    assert refused.code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in refused.err


def test_a_wrong_token_is_refused_clearly(
    rest_server: RestServer,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    user, _ = _user(rest_server, "laptop")
    refused = UrlCli(rest_server.url(user, "not-the-token"), cli_env)("snapshots")
    assert refused.code == 1
    assert "wrong user or token" in refused.err
    assert "Traceback" not in refused.err


def test_a_token_from_the_environment_and_a_removed_user(
    rest_server: RestServer,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    """The token may stay out of the location; removing a user stops its token at once."""
    user, token = _user(rest_server, "laptop")
    url = f"rest+http://127.0.0.1:{rest_server.port}/{user}"  # the user is the repository's
    cli = UrlCli(url, {**cli_env, "RIPCORD_REST_TOKEN": token})
    cli.ok(*FAST_INIT)
    cli.ok("snapshots")
    removed = Cli(Path("unused"), cli_env)(
        "serve", "user", "remove", "--users", str(rest_server.users), user, repo=False
    )
    assert removed.code == 0, removed.err
    refused = cli("snapshots")
    assert refused.code == 1
    assert "wrong user or token" in refused.err


def test_another_users_repository_is_refused(
    rest_server: RestServer,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
) -> None:
    owner, owner_token = _user(rest_server, "owner")
    UrlCli(rest_server.url(owner, owner_token), cli_env).ok(*FAST_INIT)
    thief, thief_token = _user(rest_server, "thief")
    refused = UrlCli(rest_server.url(thief, thief_token, repository=owner), cli_env)("snapshots")
    assert refused.code == 1
    assert f"user {thief} may not use repository {owner}" in refused.err
    with _raw(rest_server, thief, thief_token) as raw:
        for method in ("GET", "HEAD", "DELETE"):
            assert raw.request(method, f"/{owner}/objects/config").status_code == 403
        assert raw.put(f"/{owner}/objects/keys/planted", content=b"x").status_code == 403
        assert raw.get(f"/{owner}/list/keys").status_code == 403
    assert not (rest_server.root / owner / "keys" / "planted").exists()
    assert (rest_server.root / owner / "config").is_file()


TRAVERSALS = [
    b"/{u}/objects/..%2f..%2fescape",
    b"/{u}/objects/%2e%2e/%2e%2e/escape",
    b"/{u}/objects/../../escape",
    b"/{u}/objects/data/../../../escape",
    b"/{u}/objects//tmp/escape",
    b"/{u}/objects/escape%00",
    b"/{u}/objects/data%2fescape",
    b"/{u}/objects/ESCAPE",
    b"/{u}/objects/.tmp/escape",
    b"/{u}/objects/a\\..\\..\\escape",
    b"/..%2f{u}/objects/escape",
    b"/%2e%2e/objects/escape",
    b"/{u}%2f..%2f..%2f/objects/escape",
    b"/{u}/list/..%2f..",
    b"/{u}/list//",
]


def test_path_traversal_is_refused_and_nothing_is_written_outside_the_root(
    rest_server: RestServer,  # noqa: F811 (the fixture)
) -> None:
    user, token = _user(rest_server, "laptop")
    outside = {p: sorted(os.listdir(p)) for p in (rest_server.base, rest_server.base.parent)}
    with _raw(rest_server, user, token) as raw:
        for template in TRAVERSALS:
            path = template.replace(b"{u}", user.encode())
            for method in ("PUT", "GET", "DELETE"):
                url = httpx.URL(rest_server.endpoint).copy_with(raw_path=path)
                r = raw.request(method, url, content=b"escaped" if method == "PUT" else None)
                assert r.status_code in (400, 404, 405), (method, path, r.status_code, r.text)
    for where, before in outside.items():
        assert sorted(os.listdir(where)) == before, where
    assert not (rest_server.root / user).exists()  # nothing was stored anywhere


@pytest.fixture(scope="module")
def small_limit() -> Iterator[RestServer]:
    with running_rest_server("--max-request-size", "1MiB") as server:
        yield server


def test_a_body_over_the_limit_is_refused_and_nothing_is_stored(small_limit: RestServer) -> None:
    user, token = _user(small_limit, "laptop")
    big = os.urandom((1 << 20) + 1)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for i in range(0, 4 << 20, 64 << 10):
            yield big[:1] * (64 << 10) if i else big[: 64 << 10]

    with _raw(small_limit, user, token) as raw:
        declared = raw.put(f"/{user}/objects/data/00/declared", content=big)
        assert declared.status_code == 413
        assert "--max-request-size" in declared.json()["error"]
        streamed = raw.put(f"/{user}/objects/data/00/streamed", content=chunks())
        assert streamed.status_code == 413
        assert raw.put(f"/{user}/objects/data/00/fits", content=big[:-1]).status_code == 201
    store = RestStore(small_limit.location(user, token))
    try:
        with pytest.raises(StoreError, match="over the server's limit"):
            store.put("data/00/client", big)  # the client knows the limit and says so
        assert [i.name for i in store.list("data")] == ["data/00/fits"]
    finally:
        store.close()
    assert not list((small_limit.root / user / ".tmp").iterdir())


def test_an_unreachable_server_is_a_clear_error(cli_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    refused = UrlCli(f"rest+http://u:t@127.0.0.1:{closed}/u", cli_env)("snapshots")
    assert refused.code == 1
    assert "cannot reach" in refused.err
    assert "Connection refused" in refused.err


def test_a_server_that_never_answers_times_out() -> None:
    """Connections are accepted (by the kernel) but nothing ever answers: the timeouts
    bound the wait, and the error says so."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        location = RestServer(Path("unused"), port=port).location("u", "t")
        with pytest.raises(StoreError, match="timed out"):
            RestStore(location, timeout=0.5, connect_timeout=0.5, attempts=2, backoff=0.01)


def test_the_server_refuses_plain_http_off_loopback(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    users = tmp_path / "users.txt"
    users.touch()
    cli = Cli(Path("unused"), cli_env)
    args = ("serve", "--root", str(tmp_path), "--users", str(users))
    refused = cli(*args, "--listen", "0.0.0.0:0", repo=False)
    assert refused.code == 2
    assert "--tls-cert" in refused.err
    half_tls = cli(*args, "--tls-cert", str(users), repo=False)
    assert half_tls.code == 2
    assert "go together" in half_tls.err


def test_user_add_prints_a_working_token_once_and_keeps_only_its_hash(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    users = tmp_path / "users.txt"
    cli = Cli(Path("unused"), cli_env)
    first = cli("serve", "user", "add", "--users", str(users), "laptop", "--json", repo=False)
    assert first.code == 0, first.err
    token = first.json["token"]
    assert users.stat().st_mode & 0o777 == 0o600
    line = users.read_text()
    assert line.startswith("laptop:$2b$12$") and token not in line
    again = cli("serve", "user", "add", "--users", str(users), "laptop", "--json", repo=False)
    assert again.json["token"] != token
    assert users.read_text().count("laptop:") == 1  # replaced, not added
    bad = cli("serve", "user", "add", "--users", str(users), "../etc", repo=False)
    assert bad.code == 2


# -- a server killed in the middle of a backup ---------------------------------------------


def _ripcord(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    code = "from ripcord.cli.main import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_server_killed_mid_backup_leaves_a_repository_a_rerun_completes(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    data = tmp_path / "big"
    data.mkdir()
    rng = random.Random(7)
    for i in range(12):
        (data / f"f{i}").write_bytes(rng.randbytes(6 << 20))
    with running_rest_server() as server:
        user, token = _user(server, "laptop")
        url = server.url(user, token)
        cli = UrlCli(url, cli_env)
        cli.ok(*FAST_INIT)
        packs = server.root / user / "data"
        backup = _ripcord("-r", url, "backup", str(data), env=cli_env)
        try:
            while not (packs.is_dir() and any(packs.rglob("*"))) and backup.poll() is None:
                time.sleep(0.005)  # until the first pack is stored: the backup is under way
            assert backup.poll() is None, "the backup ended before the server could be killed"
            server.kill()
            server.start()  # same port; the backup may retry through the restart
            _, err = backup.communicate(timeout=120)
        finally:
            if backup.poll() is None:
                backup.kill()
                backup.wait()
        assert backup.returncode in (0, 1), err
        assert "Traceback" not in err
        if backup.returncode == 1:
            assert "cannot reach" in err or "HTTP" in err, err
        cli.ok("backup", str(data))
        cli.ok("check", "--read-data")
        for snap in cli.ok("snapshots", "--json").json:  # none references missing data
            target = tmp_path / "out" / snap["id"]
            cli.ok("restore", snap["id"], "--target", str(target))
            assert_same(tree_state(data), tree_state(restored(target, data)))


# -- a put whose reply is lost -----------------------------------------------------------


class ReplyDropper:
    """A TCP proxy to a server that passes every request on but, while `drop` is above
    zero, cuts the connection instead of passing the next reply back: the request was
    carried out, and the client never hears of it."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.drop = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                if replies and self.drop > 0:
                    self.drop -= 1
                    break
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._listener.close()


def test_a_put_whose_reply_was_lost_succeeds_only_if_the_stored_bytes_are_its_own(
    rest_server: RestServer,  # noqa: F811 (the fixture)
) -> None:
    user, token = _user(rest_server, "laptop")
    proxy = ReplyDropper(rest_server.port)
    location = replace(rest_server.location(user, token), base=f"http://127.0.0.1:{proxy.port}")
    store = RestStore(location, backoff=0.01)
    try:
        proxy.drop = 1
        store.put("data/00/lost-reply", b"mine")  # stored, reply lost, retry finds it: mine
        assert proxy.drop == 0
        assert store.get("data/00/lost-reply") == b"mine"
        store.put("data/00/theirs", b"theirs")
        proxy.drop = 1
        with pytest.raises(ObjectExists):  # the 409 is lost; the retry's 409 is not ours
            store.put("data/00/theirs", b"mine")
        assert proxy.drop == 0
        assert store.get("data/00/theirs") == b"theirs"
    finally:
        store.close()
        proxy.close()


# -- the immutability proof ---------------------------------------------------------------


def test_append_only_a_client_with_the_backup_credentials_cannot_destroy_history(
    append_only: RestServer, tmp_path: Path, cli_env: dict[str, str], src: Path
) -> None:
    user, token = _user(append_only, "laptop")
    cli = UrlCli(append_only.url(user, token), cli_env)
    cli.ok(*FAST_INIT)
    cli.ok("backup", str(src))
    first_state = tree_state(src)
    (src / "a.txt").write_text("changed after the first backup\n")
    (src / "new.bin").write_bytes(os.urandom(300_000))
    cli.ok("backup", str(src))
    second_state = tree_state(src)
    repo = append_only.root / user
    snapshots = [s["id"] for s in cli.ok("snapshots", "--json").json]
    assert len(snapshots) == 2

    def objects() -> dict[str, bytes]:
        return {
            p.relative_to(repo).as_posix(): p.read_bytes()
            for p in repo.rglob("*")
            if p.is_file() and not p.relative_to(repo).as_posix().startswith((".tmp/", "locks/"))
        }

    before = objects()
    targets = {
        "config": "config",
        "key": next(n for n in before if n.startswith("keys/")),
        "pack": next(n for n in before if n.startswith("data/")),
        "index": next(n for n in before if n.startswith("index/")),
        "snapshot": f"snapshots/{snapshots[0]}",
    }
    with _raw(append_only, user, token) as raw:
        for kind, name in targets.items():
            deleted = raw.delete(f"/{user}/objects/{name}")
            assert deleted.status_code == 403, kind
            assert "append-only" in deleted.json()["error"]
            overwritten = raw.put(f"/{user}/objects/{name}", content=b"ransom note")
            assert overwritten.status_code == 409, kind
        plan = raw.put(f"/{user}/objects/pending/{'0' * 64}", content=b"condemn everything")
        assert plan.status_code == 403  # a plan is deletion by other means
        assert raw.put(f"/{user}/objects/locks/{'1' * 32}", content=b"lock").status_code == 201
        assert raw.delete(f"/{user}/objects/locks/{'1' * 32}").status_code == 204
    store = RestStore(append_only.location(user, token))
    try:
        assert store.capabilities.append_only
        with pytest.raises(StoreError, match="append-only"):
            store.delete(targets["pack"])
    finally:
        store.close()

    forgot = cli("forget", "--keep-last", "1", "--prune")
    assert forgot.code == 1
    assert "append-only" in forgot.err
    assert "ripcord -r SERVER_ROOT/REPOSITORY prune" in forgot.err
    marks = [n for n in objects() if n.startswith("marks/")]
    assert len(marks) == 1  # forget wrote its mark; prune wrote nothing at all
    for command in (("prune",), ("repair", "index")):
        refused = cli(*command)
        assert refused.code == 1
        assert "append-only" in refused.err
    after = objects()
    assert {n: d for n, d in after.items() if n in before} == before  # nothing lost or changed
    assert set(after) - set(before) == set(marks)
    fast = FAST_INIT[1:]
    added = cli.ok("key", "add", *fast, "--json", env={"RIPCORD_NEW_PASSWORD": "2nd"}).json["added"]
    removing = cli("key", "remove", added)
    assert removing.code == 1
    assert "append-only" in removing.err
    assert (repo / "keys" / added).is_file()
    slots = sorted((repo / "keys").iterdir())
    passwd = cli("key", "passwd", *fast, env={"RIPCORD_NEW_PASSWORD": "3rd"})
    assert passwd.code == 1 and "append-only" in passwd.err
    assert sorted((repo / "keys").iterdir()) == slots  # refused before adding a slot

    # the server's admin undoes the forget (a mark is a file there) and every snapshot is whole
    (repo / marks[0]).unlink()
    for snapshot, state in zip(snapshots, (first_state, second_state), strict=True):
        target = tmp_path / "restored" / snapshot
        cli.ok("restore", snapshot, "--target", str(target))
        assert_same(state, tree_state(restored(target, src)))

    # pruning is done on the server, on the repository's directory
    cli.ok("forget", snapshots[0])
    on_server = Cli(repo, cli_env)
    pruned = on_server.ok("prune", "--json").json
    assert pruned["snapshots_deleted"] == 1
    on_server.ok("check", "--read-data")
    assert [s["id"] for s in cli.ok("snapshots", "--json").json] == [snapshots[1]]
    shutil.rmtree(tmp_path / "restored")
    cli.ok("restore", "latest", "--target", str(tmp_path / "restored"))
    assert_same(second_state, tree_state(restored(tmp_path / "restored", src)))
