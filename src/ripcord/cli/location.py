"""Which repository a command means, and the store behind it."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ripcord.errors import RipcordError
from ripcord.storage import LocalStore, Store

APP = "ripcord"
# what reads as a URL: a scheme, a colon and a slash ("s3:/bucket", "b2://x", "http://h")
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


@dataclass(frozen=True)
class DefaultRepository:
    """The embedded default: a local repository opened by a generated key file."""

    repo: Path
    key_file: Path

    @classmethod
    def here(cls) -> DefaultRepository:
        data = Path(os.environ.get("RIPCORD_DATA_DIR") or platformdirs.user_data_dir(APP))
        conf = Path(os.environ.get("RIPCORD_CONFIG_DIR") or platformdirs.user_config_dir(APP))
        return cls(data / "repo", conf / "default-repo.key")

    def exists(self) -> bool:
        return (self.repo / "config").exists()

    def read_key(self) -> bytes:
        return self.key_file.read_bytes().strip()

    def new_key(self) -> bytes:
        """Write a random password to a 0600 key file; never overwrite one.

        A key file already there (a first run that stopped before the repository
        was made) is used as it is.
        """
        self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_urlsafe(32).encode()
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.read_key()
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
        return key


def open_store(location: str, create: bool = False) -> Store:
    """A store for a repository location: a local path, or an sftp://, s3:// or rest+ URL."""
    if location.startswith("sftp://"):
        from ripcord.storage.sftp import open_sftp  # paramiko is slow to import: only when used

        return open_sftp(location)  # created on the server as objects are written
    if location.startswith("s3://"):
        from ripcord.storage.s3 import S3Store  # boto3 takes ~0.2 s to import: only when used

        return S3Store.from_url(location)  # the bucket must exist; objects make the repository
    if location.startswith(("rest+http://", "rest+https://")):
        from ripcord.storage.rest import RestStore  # httpx: only when used

        return RestStore.from_url(location)  # the server makes the repository on first write
    if location.startswith("local:"):
        return LocalStore(os.path.expanduser(location[len("local:") :]), create=create)
    if _URL_LIKE.match(location):  # a typo such as s3:/bucket made a local folder "s3:"
        raise RipcordError(
            f"{location}: not a repository location ripcord knows (a local path, sftp://,"
            " s3://, rest+http:// or rest+https://); a local folder whose name has a"
            " colon is written local:PATH"
        )
    return LocalStore(os.path.expanduser(location), create=create)


def cache_dir() -> Path:
    return Path(os.environ.get("RIPCORD_CACHE_DIR") or platformdirs.user_cache_dir(APP))
