"""The users file of `ripcord serve`: who may log in, and with which token.

One user a line, `NAME:BCRYPT-HASH`; blank lines and lines starting with `#`
are ignored. A user may use one repository, the one of the same name
(docs/SERVER.md §Users), so names follow the repository name rule.

Tokens are random (`add_user` makes 256-bit ones), so bcrypt's cost protects
only a stolen users file; checking it on every request would cost ~0.25 s of
CPU each. A token that passed bcrypt once is remembered as its SHA-256 for as
long as the user's line is unchanged, and later requests are compared with
that in constant time.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from pathlib import Path

import bcrypt

from ripcord.errors import UsageError
from ripcord.storage.rest_protocol import REPOSITORY_NAME

# a bcrypt hash: cost, then 22 characters of salt (the last holds 2 bits: bcrypt refuses
# any other than these 4) and 31 of hash
HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}$")
ROUNDS = 12  # bcrypt cost of the hashes `user add` writes
MAX_ROUNDS = 20  # ~4 minutes a check; bcrypt's own limit, 31, is days
_MAX_TOKEN = 72  # bcrypt reads no further; a longer token is refused, not truncated

log = logging.getLogger("ripcord.serve")


class UsersFileError(UsageError):
    """the users file is not valid"""


def parse_users(text: str, source: str = "users file") -> dict[str, str]:
    """Map each user to its bcrypt hash; a malformed line is an error naming its number."""
    users: dict[str, str] = {}
    for number, line in enumerate(_lines(text), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, hashed = entry.partition(":")
        where = f"{source}, line {number}"
        if not sep:
            raise UsersFileError(f"{where}: expected NAME:BCRYPT-HASH")
        if not REPOSITORY_NAME.match(name):
            raise UsersFileError(
                f"{where}: invalid user name {name!r} (1 to 64 of a-z, 0-9, '-' and '_')"
            )
        cost = HASH.match(hashed)
        if cost is None:
            raise UsersFileError(f"{where}: the hash of {name} is not a bcrypt hash")
        if not 4 <= int(cost.group(1)) <= MAX_ROUNDS:
            raise UsersFileError(
                f"{where}: the hash of {name} has cost {cost.group(1)}; ripcord takes 04"
                f" to {MAX_ROUNDS} (`serve user add` writes {ROUNDS})"
            )
        if name in users:
            raise UsersFileError(f"{where}: {name} is listed twice")
        users[name] = hashed
    return users


def _lines(text: str) -> list[str]:
    """Lines split at newlines only (str.splitlines also splits at \\x85, \\x0c, ...)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def with_user(text: str, name: str, hashed: str | None) -> str:
    """The users file `text` with `name`'s line replaced by `name:hashed` (appended if new;
    removed if `hashed` is None). Comments and other lines stay as they are."""
    parse_users(text)  # never edit a file that is already wrong
    out: list[str] = []
    for line in _lines(text):
        if line.strip().partition(":")[0] == name and not line.strip().startswith("#"):
            if hashed is not None:
                out.append(f"{name}:{hashed}")
                hashed = None
            continue
        out.append(line)
    if hashed is not None:
        out.append(f"{name}:{hashed}")
    return "".join(f"{line}\n" for line in out)


def new_token() -> str:
    """A random token (256 bits, URL-safe: it can stand in a rest+https:// location)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str, rounds: int = ROUNDS) -> str:
    return bcrypt.hashpw(token.encode(), bcrypt.gensalt(rounds)).decode()


def set_user(path: Path, name: str, token: str | None, rounds: int = ROUNDS) -> None:
    """Give `name` the token `token` in the users file at `path` (None removes the user).

    The file is replaced whole (a new file renamed over the old, mode 0600), so a
    running server never reads half of it.
    """
    if not REPOSITORY_NAME.match(name):
        raise UsageError(f"invalid user name {name!r} (1 to 64 of a-z, 0-9, '-' and '_')")
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    if token is None and name not in parse_users(text, str(path)):
        raise UsageError(f"no user {name} in {path}")
    hashed = None if token is None else hash_token(token, rounds)
    _replace(path, with_user(text, name, hashed))


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UsageError(f"cannot write {path}: {e.strerror}") from None


class Users:
    """The users a running server accepts, read again whenever the file changes.

    A file that became invalid logs an error and lets nobody in until it is fixed:
    a half-edited file must not keep a revoked token working.
    """

    def __init__(self, path: Path, decoy_rounds: int = ROUNDS) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._users: dict[str, str] = {}
        self._passed: dict[str, tuple[str, bytes]] = {}  # user -> (hash, sha256 of token)
        self._load(strict=True)
        self._decoy = hash_token(new_token(), decoy_rounds)  # unknown users cost one too

    def __len__(self) -> int:
        return len(self._users)

    def _signature(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _load(self, strict: bool) -> None:
        try:
            seen = self._signature()
            users = parse_users(self.path.read_text(), str(self.path))
        except (OSError, UnicodeDecodeError, UsersFileError) as e:
            why = getattr(e, "strerror", None) or str(e)
            if strict:
                raise UsersFileError(f"cannot use the users file {self.path}: {why}") from None
            log.error("users file %s: %s; nobody can log in until it is fixed", self.path, why)
            seen, users = (0, 0, 0), {}
        self._seen, self._users = seen, users

    def refresh(self) -> None:
        with self._lock:
            try:
                changed = self._signature() != self._seen
            except OSError:
                changed = True
            if changed:
                self._load(strict=False)

    def remembered(self, name: str, token: str) -> bool | None:
        """Whether `token` is `name`'s, when that is known without bcrypt (the user has
        passed it since the line last changed, or the token is too long); else None."""
        self.refresh()
        with self._lock:
            hashed = self._users.get(name)
            passed = self._passed.get(name)
        raw = token.encode()
        if hashed is not None and passed is not None and passed[0] == hashed:
            return hmac.compare_digest(passed[1], hashlib.sha256(raw).digest())
        if len(raw) > _MAX_TOKEN:
            return False
        return None

    def verify(self, name: str, token: str) -> bool:
        """Whether `token` is `name`'s. Blocking (bcrypt): call it from a worker thread."""
        known = self.remembered(name, token)
        if known is not None:
            return known
        with self._lock:
            hashed = self._users.get(name)
        raw = token.encode()
        digest = hashlib.sha256(raw).digest()
        try:
            ok = bcrypt.checkpw(raw, (hashed or self._decoy).encode()) and hashed is not None
        except ValueError as e:  # a hash HASH passed but bcrypt refuses: nobody gets in
            log.error("users file %s: the hash of %s: %s", self.path, name, e)
            return False
        if ok:
            with self._lock:
                self._passed[name] = (hashed or "", digest)
        return ok
