"""No secret leaves ripcord: not in output, errors or --json; private files are private.

Each command runs with known, unique secrets (the repository password, a new
password, a REST token, an S3 secret key) and everything it prints, on success
and on failure, is searched for them (docs/GUARANTEES.md §Secrets).
"""

from __future__ import annotations

import ast
import base64
import stat
from pathlib import Path

import pytest

from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import Cli, Result

PASSWORD = "pw-Qx81-never-printed"
NEW_PASSWORD = "pw-Zk44-new-never-printed"
WRONG = "pw-Wr0ng-never-printed"
TOKEN = "tok-Hv27-never-printed"
S3_SECRET = "s3-Pm93-never-printed"
SECRETS = (PASSWORD, NEW_PASSWORD, WRONG, TOKEN, S3_SECRET)
SRC = Path(__file__).resolve().parents[2] / "src" / "ripcord"


def assert_no_secret(r: Result, *extra: str) -> None:
    text = r.out + r.err
    for secret in (*SECRETS, *extra):
        assert secret not in text, f"{secret!r} printed: {text[:500]}"
        assert base64.b64encode(secret.encode()).decode() not in text


@pytest.fixture
def scli(tmp_path: Path, cli_env: dict[str, str]) -> Cli:
    env = {
        **cli_env,
        "RIPCORD_PASSWORD": PASSWORD,
        "RIPCORD_NEW_PASSWORD": NEW_PASSWORD,
        "RIPCORD_REST_TOKEN": TOKEN,
        "AWS_ACCESS_KEY_ID": "AKIDRIPCORDTEST",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    }
    c = Cli(tmp_path / "repo", env)
    assert_no_secret(c.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1", "--json"))
    return c


def test_no_command_prints_a_password_or_a_key(scli: Cli, src: Path, tmp_path: Path) -> None:
    runs = [
        ("backup", str(src), "--json"),
        ("backup", str(src)),
        ("snapshots", "--json"),
        ("ls", "latest", "--json"),
        ("stats", "--json"),
        ("cat", "config"),
        ("cat", "snapshot", "latest"),
        ("check", "--json"),
        ("drill", "--json"),
        ("key", "list", "--json"),
        ("key", "add", "--kdf-iterations", "1", "--kdf-memory-mib", "1", "--json"),
        ("restore", "latest", "--target", str(tmp_path / "out"), "--json"),
    ]
    for args in runs:
        assert_no_secret(scli.ok(*args))
    with Repository.open(LocalStore(scli.repo), PASSWORD.encode()) as repo:
        keys = [repo.key, repo.secrets.id_key]
    for args in runs[:4]:
        r = scli.ok(*args)
        for k in keys:  # the master keys, in any spelling
            for spelled in (k.hex(), base64.b64encode(k).decode(), repr(k)):
                assert spelled not in r.out + r.err


def test_a_wrong_password_is_not_echoed(scli: Cli) -> None:
    for args in (("snapshots", "--json"), ("snapshots",), ("key", "passwd", "--json")):
        r = scli(*args, env={"RIPCORD_PASSWORD": WRONG})
        assert r.code == 12, r.err
        assert_no_secret(r)


@pytest.mark.parametrize(
    "location",
    [
        f"rest+http://laptop:{TOKEN}@127.0.0.1:1/repo",  # unreachable, token in the location
        f"rest+http://laptop:{TOKEN}@127.0.0.1:1/Not A Name",  # invalid
        "rest+http://laptop@127.0.0.1:1/repo",  # token from RIPCORD_REST_TOKEN
        f"s3://AKID:{S3_SECRET}@bucket/p?endpoint=http://127.0.0.1:1",
        f"s3://bucket/p?endpoint=http://AKID:{S3_SECRET}@127.0.0.1:1",
        f"s3://bucket/p?endpoint=http://127.0.0.1:1&secret={S3_SECRET}",
        "s3://bucket/p?endpoint=http://127.0.0.1:1",  # unreachable, secret in the environment
        f"sftp://me:{S3_SECRET}@127.0.0.1:1/repo",
    ],
)
def test_a_failing_remote_location_never_shows_its_credentials(scli: Cli, location: str) -> None:
    for args in (("snapshots", "--json"), ("init", "--json"), ("check",)):
        r = scli("-r", location, *args, repo=False)
        assert r.code != 0
        assert "Traceback" not in r.err
        assert_no_secret(r)


def test_private_files_are_private(scli: Cli, src: Path, tmp_path: Path) -> None:
    """The cache names every blob and pack: 0600 files in 0700 folders; a repository
    folder ripcord creates is 0700, so its key files are read by its owner only."""
    scli.ok("backup", str(src))
    cache = Path(scli.env["RIPCORD_CACHE_DIR"])
    found = list(cache.rglob("*"))
    assert any(p.is_file() for p in found)
    for p in [cache, *found]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o077 == 0, f"{p} is mode {mode:o}"
    assert stat.S_IMODE(scli.repo.stat().st_mode) == 0o700
    for key_file in (scli.repo / "keys").iterdir():
        assert stat.S_IMODE(key_file.stat().st_mode) & 0o222 == 0  # and written once


def _secret_name(node: ast.expr) -> bool:
    text = ast.unparse(node).lower()
    return any(w in text for w in ("mac", "token", "password", "secret", "tag", "id_key"))


def test_secrets_are_compared_in_constant_time() -> None:
    """`==` on a MAC, token or key leaks, through timing, how much of a guess was right:
    such comparisons go through hmac.compare_digest or bcrypt."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                sides = [node.left, *node.comparators]
                if any(_secret_name(s) for s in sides) and not any(
                    isinstance(s, ast.Constant) for s in sides
                ):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert found == [], "\n".join(found)


def test_no_option_takes_a_secret_on_the_command_line() -> None:
    """Arguments are visible to every user in `ps`: passwords come from the environment,
    a file, a command or a prompt, never from an option's value."""
    from ripcord.cli.main import cli

    def options(cmd: object, prefix: str) -> list[str]:
        import click

        assert isinstance(cmd, click.Command)
        out = [f"{prefix} {o}" for p in cmd.params for o in p.opts]
        if isinstance(cmd, click.Group):  # lazily loaded: ask for each by name
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                out += options(sub, f"{prefix} {name}")
        return out

    assert len(options(cli, "ripcord")) > 100  # every command's options, lazily loaded too
    secret_options = [
        o
        for o in options(cli, "ripcord")
        if any(w in o for w in ("password", "token", "secret"))
        and not o.endswith(("-file", "-command"))
    ]
    assert secret_options == []
