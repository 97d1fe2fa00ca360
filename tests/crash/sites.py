"""Where the crash tests keep repositories: a local directory, an sshd, a SeaweedFS bucket.

A site makes fresh repository locations and clones one, objects and all, so that
every kill point starts from the same prepared state without preparing it again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

from tests.s3server import S3Server
from tests.sshserver import SshServer


class Site(Protocol):
    name: str

    def location(self, key: str) -> str:
        """A fresh, empty repository location named `key` (unique within the site)."""

    def clone(self, location: str, key: str) -> str:
        """A new location `key` holding a byte copy of every object at `location`."""

    def discard(self, location: str) -> None:
        """Remove every object at `location`."""


class LocalSite:
    """Repositories in directories below `root`."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, location: str) -> Path:
        return Path(location)

    def location(self, key: str) -> str:
        return str(self.root / key)

    def clone(self, location: str, key: str) -> str:
        new = self.location(key)
        if self.path(location).exists():  # a repository not yet made has nothing to copy
            shutil.copytree(self.path(location), self.path(new), symlinks=True)
        return new

    def discard(self, location: str) -> None:
        shutil.rmtree(self.path(location), ignore_errors=True)


class SftpSite(LocalSite):
    """Repositories below `root` reached over SFTP (the test sshd serves this machine's
    files, so a clone is a copy of the directory)."""

    name = "sftp"

    def __init__(self, root: Path, server: SshServer) -> None:
        super().__init__(root)
        self.server = server

    def path(self, location: str) -> Path:
        return self.root / location.split("?", 1)[0].rsplit("/", 1)[1]

    def location(self, key: str) -> str:
        return self.server.url(self.root / key)


class S3Site:
    """Repositories under prefixes of one bucket of the session's SeaweedFS."""

    name = "s3"

    def __init__(self, server: S3Server) -> None:
        self.server = server
        self.bucket = server.new_bucket()
        self.client: Any = server.client()

    def location(self, key: str) -> str:
        return self.server.url(self.bucket, key)

    @staticmethod
    def prefix(location: str) -> str:
        return location.split("?", 1)[0].split("/", 3)[3]

    def _keys(self, location: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix(location) + "/"
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def clone(self, location: str, key: str) -> str:
        old, new = self.prefix(location), key
        for name in self._keys(location):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=new + name[len(old) :],
                CopySource={"Bucket": self.bucket, "Key": name},
            )
        return self.location(key)

    def discard(self, location: str) -> None:
        for name in self._keys(location):
            self.client.delete_object(Bucket=self.bucket, Key=name)

    def close(self) -> None:
        self.client.close()
