"""A damaged users file of `ripcord serve`: refused with an error naming its line, or
read; and a running server's token check answers yes or no, never raises.

The users file (server/users.py) is the admin's own, edited by hand or by `serve user`;
a typo in it must not crash the server nor let a revoked token in. Mutations of a real
file (bcrypt hashes of cost 4) are parsed; a file that parses is then used by a server
to check tokens, the right one and a wrong one.
"""

from __future__ import annotations

import os
from pathlib import Path

import bcrypt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.server.users import HASH, Users, UsersFileError, hash_token, parse_users
from tests.fuzz.corpus import FUZZ
from tests.fuzz.mutate import mutated

TOKEN = "a-token-of-the-backup-user"
HASHED = hash_token(TOKEN, rounds=4)
SEED = f"# ripcord serve users\n\nbackup:{HASHED}\nlaptop:{hash_token('other', rounds=4)}\n"

LINES = [
    "backup",
    "backup:",
    ":" + HASHED,
    f"backup:{HASHED}",
    f"BACKUP:{HASHED}",
    f"back up:{HASHED}",
    f"backup:{HASHED}:extra",
    f" backup:{HASHED} ",
    f"backup:{HASHED[:-1]}",
    f"backup:{HASHED[:28]}z{HASHED[29:]}",  # a salt whose last character bcrypt refuses
    f"backup:{HASHED[:4]}31{HASHED[6:]}",  # 2**31 rounds: days for each check
    f"backup:{HASHED.replace('$2b$', '$2y$')}",
    f"x{'y' * 70}:{HASHED}",
    "#backup:nothing",
    "\x00",
    "\u2028",
    "\r",
]


@st.composite
def users_files(draw: st.DrawFn) -> str:
    """The seed with a line replaced or added, or its bytes damaged (as text)."""
    if draw(st.booleans()):
        return draw(mutated(SEED.encode())).decode("utf-8", "replace")
    lines = SEED.split("\n")
    at = draw(st.integers(0, len(lines) - 1))
    new = draw(st.sampled_from(LINES))
    lines[at : at + draw(st.integers(0, 1))] = [new]
    return "\n".join(lines)


def cheap(text: str) -> bool:
    """Every hash the server would use is of cost 6 or less: checking tokens stays quick
    (a file it cannot read lets nobody in, and checks nothing)."""
    try:
        users = parse_users(text)
    except UsersFileError:
        return True
    return all(int(hashed.split("$")[2]) <= 6 for hashed in users.values())


@FUZZ
@given(text=users_files())
def test_a_users_file_is_read_or_refused_with_its_line(text: str) -> None:
    try:
        users = parse_users(text, "users.txt")
    except UsersFileError as e:
        assert "users.txt, line " in str(e)
        return
    for name, hashed in users.items():
        assert HASH.match(hashed), (name, hashed)


@pytest.fixture(scope="module")
def server_users(tmp_path_factory: pytest.TempPathFactory) -> Users:
    """The users of one running server, its file replaced by each example."""
    path = tmp_path_factory.mktemp("users") / "users.txt"
    path.write_text(SEED)
    return Users(path, decoy_rounds=4)


@FUZZ
@given(text=users_files())
def test_a_server_checks_tokens_against_any_users_file_without_raising(
    server_users: Users, text: str
) -> None:
    if not cheap(text):
        return
    users, new = server_users, server_users.path.with_name("new.txt")
    new.write_text(text)
    os.replace(new, users.path)  # edited while the server runs: read again on the next check
    for name, token in (("backup", TOKEN), ("laptop", "wrong"), ("nobody", "x" * 100)):
        assert users.verify(name, token) in (True, False)


def test_a_hash_bcrypt_would_refuse_is_refused_when_the_file_is_read() -> None:
    """The regular expression alone let through a salt whose last character carries bits
    bcrypt does not have (its check then raised ValueError on every login)."""
    bad = f"{HASHED[:28]}z{HASHED[29:]}"
    with pytest.raises(ValueError):
        bcrypt.checkpw(TOKEN.encode(), bad.encode())
    with pytest.raises(UsersFileError, match="line 1: the hash of backup is not a bcrypt hash"):
        parse_users(f"backup:{bad}\n", "users.txt")


def test_a_cost_past_20_is_refused(tmp_path: Path) -> None:
    """2**31 rounds take days a check: a typo there would lock everyone out, silently."""
    slow = f"{HASHED[:4]}21{HASHED[6:]}"
    with pytest.raises(UsersFileError, match="cost 21"):
        parse_users(f"backup:{slow}\n", "users.txt")
