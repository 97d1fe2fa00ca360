"""The users file of `ripcord serve`: parsing, editing, and checking tokens against it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.server.users import (
    HASH,
    MAX_ROUNDS,
    Users,
    UsersFileError,
    hash_token,
    parse_users,
    set_user,
    with_user,
)
from ripcord.storage.rest_protocol import REPOSITORY_NAME

NAMES = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HASHES = st.builds(  # the salt's last character holds 2 bits: one of 4 (bcrypt's rule)
    lambda v, cost, salt, last, body: f"$2{v}${cost:02d}${salt}{last}{body}",
    st.sampled_from("aby"),
    st.integers(4, MAX_ROUNDS),
    st.text(BCRYPT_ALPHABET, min_size=21, max_size=21),
    st.sampled_from(".Oeu"),
    st.text(BCRYPT_ALPHABET, min_size=31, max_size=31),
)
COMMENTS = st.lists(st.from_regex(r"#[^\n\r]*", fullmatch=True) | st.just(""), max_size=3)


@given(st.dictionaries(NAMES, HASHES, max_size=8), COMMENTS)
def test_a_file_written_user_by_user_parses_back(
    users: dict[str, str], comments: list[str]
) -> None:
    text = "".join(f"{c}\n" for c in comments)
    for name, hashed in users.items():
        text = with_user(text, name, hashed)
    assert parse_users(text) == users
    assert all(line in text.split("\n") for line in comments)  # comments are kept


@given(st.dictionaries(NAMES, HASHES, min_size=1, max_size=8), HASHES, st.data())
def test_replacing_and_removing_a_user_leaves_the_others(
    users: dict[str, str], new_hash: str, data: st.DataObject
) -> None:
    text = "# the backup clients\n"
    for name, hashed in users.items():
        text = with_user(text, name, hashed)
    name = data.draw(st.sampled_from(sorted(users)))
    assert parse_users(with_user(text, name, new_hash)) == {**users, name: new_hash}
    rest = {n: h for n, h in users.items() if n != name}
    removed = with_user(text, name, None)
    assert parse_users(removed) == rest
    assert removed.startswith("# the backup clients\n")


def _valid_users_or_a_users_file_error(text: str) -> None:
    try:
        users = parse_users(text)
    except UsersFileError as e:
        assert "line" in str(e)
        return
    assert all(REPOSITORY_NAME.match(n) and HASH.match(h) for n, h in users.items())


@given(st.text())
def test_any_text_parses_to_valid_users_or_a_users_file_error(text: str) -> None:
    _valid_users_or_a_users_file_error(text)


@given(st.lists(st.sampled_from([*"ab:$#\n\r ", "$2b$04$", "x" * 53, "../"]), max_size=30))
def test_near_misses_parse_to_valid_users_or_a_users_file_error(parts: list[str]) -> None:
    _valid_users_or_a_users_file_error("".join(parts))


GOOD = "$2b$04$" + "a" * 21 + "." + "a" * 31


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("laptop\n", "line 1: expected NAME:BCRYPT-HASH"),
        (f"# ok\n../etc:{GOOD}\n", "line 2: invalid user name '../etc'"),
        (f"Laptop:{GOOD}\n", "invalid user name 'Laptop'"),
        ("laptop:secret\n", "the hash of laptop is not a bcrypt hash"),
        (f"laptop:{GOOD}\nlaptop:{GOOD}\n", "line 2: laptop is listed twice"),
    ],
)
def test_a_bad_line_is_named(text: str, message: str) -> None:
    with pytest.raises(UsersFileError, match=message.replace("$", r"\$")):
        parse_users(text)


def test_editing_refuses_a_file_that_is_already_wrong() -> None:
    with pytest.raises(UsersFileError):
        with_user("garbage\n", "laptop", GOOD)


def test_tokens_are_checked_against_the_file_as_it_is_now(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    set_user(path, "laptop", "right-token", rounds=4)
    assert path.stat().st_mode & 0o777 == 0o600
    users = Users(path)
    assert users.verify("laptop", "right-token")
    assert users.verify("laptop", "right-token")  # remembered: no bcrypt this time
    assert not users.verify("laptop", "wrong-token")
    assert not users.verify("desktop", "right-token")
    assert not users.verify("laptop", "right-token" + "x" * 100)  # past bcrypt's 72 bytes
    set_user(path, "laptop", "new-token", rounds=4)  # the file changes under a running server
    assert not users.verify("laptop", "right-token")
    assert users.verify("laptop", "new-token")
    path.write_text("half an edit\n")
    assert not users.verify("laptop", "new-token")  # an invalid file lets nobody in
    path.write_text(f"laptop:{hash_token('fixed', rounds=4)}\n")
    os.utime(path, ns=(1, 1))  # a change the signature sees however fast the writes were
    assert users.verify("laptop", "fixed")


def test_a_server_will_not_start_on_a_missing_or_invalid_users_file(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError, match="cannot use the users file"):
        Users(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("nope\n")
    with pytest.raises(UsersFileError, match="line 1"):
        Users(tmp_path / "bad.txt")
