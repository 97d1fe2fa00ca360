"""Whether a copy is immutable, as its store says, not as the plan file claims.

A plan that says `immutable = true` about a bucket made without Object Lock
gives false comfort: ransomware holding the backup credentials deletes
everything. So the store is asked:

- S3: the bucket's Object Lock configuration, then the lock on the newest
  snapshot object (or `config`): a bucket with Object Lock where ripcord
  writes unlocked objects protects nothing.
- ripcord's REST server: its capabilities say whether it runs --append-only
  (then it refuses every delete but of locks, and writes are write-once).
- a local directory or an SFTP server: whoever writes the backups can delete
  them, so never.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ripcord.errors import RipcordError
from ripcord.plan.state import Immutability
from ripcord.repository import Repository
from ripcord.storage.base import Store

Clock = Callable[[], datetime]
_WRITERS = ", where whoever can write backups can delete them"


def probe(
    repo: Repository, newest: str | None, clock: Clock = lambda: datetime.now(UTC)
) -> Immutability:
    """Ask `repo`'s store; `newest` is the id of the newest snapshot, if any. Locks
    are compared with the real clock: they are a fact about the bucket now."""
    store = repo.store
    s3 = _instance(store, "ripcord.storage.s3", "S3Store")
    if s3 is not None:
        return _s3(repo, s3, newest, clock())
    if store.capabilities.append_only:
        return Immutability(True, "the server is append-only and refuses every deletion")
    if _instance(store, "ripcord.storage.rest", "RestStore") is not None:
        return Immutability(False, "the server is not append-only (ripcord serve --append-only)")
    if _instance(store, "ripcord.storage.sftp", "SftpStore") is not None:
        return Immutability(False, f"an SFTP account{_WRITERS}")
    if store.capabilities.local:
        return Immutability(False, f"a directory{_WRITERS}")
    return Immutability(False, "this store cannot refuse deletion")


def _s3(repo: Repository, store: Any, newest: str | None, now: datetime) -> Immutability:
    config = store.object_lock_configuration()
    if config is None:
        return Immutability(False, "the bucket has no Object Lock, so backups can be deleted")
    name = f"snapshots/{newest}" if newest else "config"
    shown = f"snapshot {newest[:12]}" if newest else "the repository's config"
    try:
        until = store.retained_until(name)
    except RipcordError as e:
        return Immutability(False, f"the lock on {shown} could not be read ({e})")
    if until is None:
        return Immutability(
            False,
            f"the bucket has Object Lock, but {shown} is not locked (init --object-lock)",
        )
    if until <= now:
        return Immutability(
            False, f"the lock on {shown} ran out on {until:%Y-%m-%d %H:%M} UTC (ripcord maintain)"
        )
    lock = repo.config.object_lock
    mode = f" in {lock.mode} mode" if lock is not None else ""
    return Immutability(
        True, f"S3 Object Lock: {shown} is locked{mode} until {until:%Y-%m-%d %H:%M} UTC"
    )


def _instance(store: Store, module: str, cls: str) -> Any:
    """`store` if it is `module.cls`; a store of that kind has its module loaded already,
    so nothing slow (boto3, httpx, paramiko) is imported to ask. (Another thread may be
    loading the module now: then the class is not there yet, and `store` is not one.)"""
    kind = getattr(sys.modules.get(module), cls, None)
    store = getattr(store, "inner", store)  # behind the retry wrapper (storage/retry.py)
    return store if kind is not None and isinstance(store, kind) else None
